package diagnose

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

type target int

const (
	targetLogin target = iota
	targetGraph
	targetHub
)

// endpoint is where a target lives: the address dialled and the name its
// certificate must carry.
type endpoint struct {
	name       string // "the login service" …
	addr       string // host:port dialled
	serverName string
	dnsID      string
}

func (r *runner) endpoint(t target) (endpoint, string) {
	switch t {
	case targetLogin, targetGraph:
		if r.endpointsErr != nil {
			return endpoint{}, "skipped: the cloud settings are invalid: " + r.endpointsErr.Error()
		}
		addr, name, id := r.endpoints.LoginHost, "the login service (Entra ID)", IDDNSLogin
		if t == targetGraph {
			addr, name, id = r.endpoints.GraphHost, "Microsoft Graph", IDDNSGraph
		}
		host, _, _ := net.SplitHostPort(addr)
		return endpoint{name: name, addr: addr, serverName: host, dnsID: id}, ""
	default:
		if !r.csOK {
			return endpoint{}, "skipped: no valid Event Hub connection string (see " + IDSettings + ")"
		}
		addr, sn := r.cfg.Bootstrap(r.cs)
		return endpoint{name: "the Event Hub namespace", addr: addr, serverName: sn, dnsID: IDDNSEventHub}, ""
	}
}

// Guide texts (Network and Firewall Requirements).
const (
	guideDNS     = "the install guide's DNS requirements: your DNS must resolve *.microsoft.com, *.microsoftonline.com and *.servicebus.windows.net"
	guideFW443   = "allow outbound HTTPS (TCP 443) to login.microsoftonline.com and graph.microsoft.com (or your cloud's hosts) in the firewall and any proxy, as the install guide's firewall rules list"
	guideFW9093  = "allow outbound TCP 9093 (Kafka over TLS) to *.servicebus.windows.net in the firewall — the install guide's rule \"*.servicebus.windows.net 9093 Kafka/SSL\"; Kafka does not use 443, so a firewall that only opens HTTPS blocks alerts"
	extraCAHow   = "set the proxy's root CA certificate (a PEM file from your network team) as the Extra CA bundle: Settings → Advanced → Extra CA bundle, or `emergencydesk config set cloud.extraCaBundle /path/to/proxy-root.pem`"
	namespaceFix = "Namespace not found: verify the resource group and namespace names — the connection string's Endpoint must be sb://<namespace>.servicebus.windows.net/ of an existing namespace (Azure Portal → Event Hubs); copy the connection string again from the event hub's Shared access policies"
)

func (r *runner) dnsCheck(t target) func(context.Context) Check {
	return func(ctx context.Context) Check {
		ep, skip := r.endpoint(t)
		if skip != "" {
			return Check{Status: Skip, Detail: skip}
		}
		host, _, err := net.SplitHostPort(ep.addr)
		if err != nil {
			return Check{Status: Fail, Detail: fmt.Sprintf("address %q is not host:port", ep.addr), Fix: "correct the endpoint overrides in Settings → Advanced"}
		}
		if ip := net.ParseIP(host); ip != nil {
			r.setResolved(host, []string{host})
			return Check{Status: Pass, Detail: fmt.Sprintf("%s is the IP address %s (no lookup needed)", ep.name, host)}
		}
		addrs, err := r.deps.Resolver.LookupHost(ctx, host)
		if err == nil && len(addrs) == 0 {
			err = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		if err != nil {
			var de *net.DNSError
			notFound := errors.As(err, &de) && de.IsNotFound
			switch {
			case notFound && t == targetHub:
				return Check{Status: Fail, Detail: fmt.Sprintf("%s does not exist in DNS (NXDOMAIN): the Event Hubs namespace %q was not found", host, r.cs.Namespace), Fix: namespaceFix}
			case notFound:
				return Check{Status: Fail, Detail: fmt.Sprintf("%s does not resolve (NXDOMAIN)", host), Fix: "check the cloud profile and endpoint overrides (Settings → Advanced) and " + guideDNS}
			case ctx.Err() != nil:
				return Check{Status: Fail, Detail: fmt.Sprintf("looking up %s got no answer within %s", host, roundDur(r.opts.CheckTimeout)), Fix: "the DNS server does not answer: check this computer's DNS settings and " + guideDNS}
			}
			return Check{Status: Fail, Detail: fmt.Sprintf("looking up %s failed: %v", host, err), Fix: "check this computer's DNS settings and " + guideDNS}
		}
		r.setResolved(host, addrs)
		return Check{Status: Pass, Detail: fmt.Sprintf("%s → %s", host, strings.Join(addrs, ", "))}
	}
}

func (r *runner) setResolved(host string, addrs []string) {
	r.mu.Lock()
	r.resolved[strings.ToLower(host)] = addrs
	r.mu.Unlock()
}

// resolvedAddrs returns the dialable ip:port list for addr, from the DNS
// checks (so an injected resolver applies everywhere).
func (r *runner) resolvedAddrs(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	r.mu.Lock()
	ips := r.resolved[strings.ToLower(host)]
	r.mu.Unlock()
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip, port))
	}
	return out
}

// dial connects to the first address that answers.
func (r *runner) dial(ctx context.Context, addrs []string) (net.Conn, error) {
	var first error
	for _, a := range addrs {
		c, err := r.deps.Dialer.DialContext(ctx, "tcp", a)
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if first == nil {
		first = errors.New("no address to dial")
	}
	return nil, first
}

func (r *runner) tlsCheck(t target) func(context.Context) Check {
	return func(ctx context.Context) Check {
		ep, skip := r.endpoint(t)
		if skip != "" {
			return Check{Status: Skip, Detail: skip}
		}
		if s := r.need(ep.dnsID); s != "" {
			return Check{Status: Skip, Detail: s}
		}
		_, port, _ := net.SplitHostPort(ep.addr)
		fwFix := guideFW443
		if t == targetHub {
			fwFix = guideFW9093
		}
		conn, err := r.dial(ctx, r.resolvedAddrs(ep.addr))
		if err != nil {
			switch {
			case errors.Is(err, syscall.ECONNREFUSED):
				return Check{Status: Fail, Detail: fmt.Sprintf("TCP %s to %s (%s) was refused: a firewall rejects the port, or nothing listens there", port, ep.name, ep.addr), Fix: fwFix}
			case isTimeout(err) || ctx.Err() != nil:
				return Check{Status: Fail, Detail: fmt.Sprintf("TCP %s to %s (%s) got no answer within %s: a firewall is most likely dropping the port", port, ep.name, ep.addr, roundDur(r.opts.CheckTimeout)), Fix: fwFix}
			}
			return Check{Status: Fail, Detail: fmt.Sprintf("TCP %s to %s (%s) failed: %v", port, ep.name, ep.addr, err), Fix: fwFix}
		}
		defer conn.Close()
		if dl, ok := ctx.Deadline(); ok {
			conn.SetDeadline(dl)
		}
		// Verification is done by hand after the handshake so a failure
		// can still name the certificate that was presented.
		tc := tls.Client(conn, &tls.Config{ServerName: ep.serverName, MinVersion: tls.VersionTLS12, InsecureSkipVerify: true, NextProtos: nil})
		if err := tc.HandshakeContext(ctx); err != nil {
			switch {
			case isTimeout(err) || ctx.Err() != nil:
				return Check{Status: Fail, Detail: fmt.Sprintf("TCP %s to %s connected, but the TLS handshake got no answer within %s: a firewall or proxy accepts the connection and then drops it", port, ep.name, roundDur(r.opts.CheckTimeout)), Fix: fwFix}
			case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
				return Check{Status: Fail, Detail: fmt.Sprintf("TCP %s to %s connected, but the connection was closed during the TLS handshake: a firewall or proxy that does not allow TLS 1.2+ through", port, ep.name), Fix: fwFix + "; the endpoint needs TLS 1.2 or newer"}
			case strings.Contains(err.Error(), "protocol version"):
				return Check{Status: Fail, Detail: fmt.Sprintf("%s (or a proxy in front of it) does not offer TLS 1.2 or newer: %v", ep.name, err), Fix: "Microsoft requires TLS 1.2+: if a proxy inspects TLS, update it or exempt this host"}
			}
			return Check{Status: Fail, Detail: fmt.Sprintf("the TLS handshake with %s failed: %v", ep.name, err), Fix: "check for a proxy intercepting TLS; " + extraCAHow}
		}
		st := tc.ConnectionState()
		if c := r.verifyChain(st, ep); c != nil {
			return *c
		}
		return Check{Status: Pass, Detail: fmt.Sprintf("%s (%s): TCP %s open, %s, certificate for %s issued by %s, valid until %s",
			ep.name, ep.addr, port, tls.VersionName(st.Version), ep.serverName, issuerName(st.PeerCertificates[0]),
			st.PeerCertificates[0].NotAfter.UTC().Format("2006-01-02"))}
	}
}

// verifyChain checks the presented chain against the system roots plus
// the extra CA bundle and explains a failure; nil means valid.
func (r *runner) verifyChain(st tls.ConnectionState, ep endpoint) *Check {
	if len(st.PeerCertificates) == 0 {
		return &Check{Status: Fail, Detail: ep.name + " presented no certificate", Fix: extraCAHow}
	}
	leaf := st.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: ep.serverName, Roots: r.roots, Intermediates: inter, CurrentTime: r.deps.Now()})
	if err == nil {
		return nil
	}
	top := st.PeerCertificates[len(st.PeerCertificates)-1]
	issuer := issuerName(top)
	bundle := "no Extra CA bundle is set"
	if r.cfg.Cloud.ExtraCABundle != "" {
		bundle = "the Extra CA bundle " + r.cfg.Cloud.ExtraCABundle + " does not contain it either"
	}
	var (
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &ua):
		selfSigned := len(st.PeerCertificates) == 1 && leaf.Issuer.String() == leaf.Subject.String()
		what := fmt.Sprintf("the certificate of %s (%s) was issued by %q, an authority this computer does not trust (%s)", ep.name, ep.serverName, issuer, bundle)
		if selfSigned {
			what = fmt.Sprintf("%s (%s) presented a self-signed certificate %q (%s)", ep.name, ep.serverName, leaf.Subject.String(), bundle)
		}
		if publicCA(issuer) {
			return &Check{Status: Fail, Detail: what + ". The issuer looks like a public CA, so this computer's root certificate store is probably outdated.",
				Fix: "update the operating system's root certificates; if a proxy inspects TLS, " + extraCAHow}
		}
		return &Check{Status: Fail, Detail: what + ". Microsoft's certificates chain to public CAs (DigiCert, Microsoft), so a TLS-inspecting proxy or firewall re-signing the connection is the likely cause.",
			Fix: extraCAHow + "; or ask the network team to exempt " + ep.serverName + " from TLS inspection"}
	case errors.As(err, &he):
		return &Check{Status: Fail, Detail: fmt.Sprintf("the certificate presented for %s is for %s, not %s: a proxy is intercepting, or an endpoint override points at the wrong server", ep.name, strings.Join(certNames(leaf), ", "), ep.serverName),
			Fix: "check the endpoint overrides (Settings → Advanced); if a proxy inspects TLS, " + extraCAHow}
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return &Check{Status: Fail, Detail: fmt.Sprintf("the certificate of %s is expired or not yet valid (valid %s to %s; this computer's time is %s)", ep.name, leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), r.deps.Now().UTC().Format(time.RFC3339)),
			Fix: "check this computer's date and time; if a proxy inspects TLS, its certificate may be expired"}
	}
	return &Check{Status: Fail, Detail: fmt.Sprintf("the certificate chain of %s is not valid: %v", ep.name, err), Fix: extraCAHow}
}

func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		if len(c.Issuer.Organization) > 0 {
			return c.Issuer.CommonName + ", " + c.Issuer.Organization[0]
		}
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}

func certNames(c *x509.Certificate) []string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		names = []string{c.Subject.CommonName}
	}
	return names
}

// publicCA guesses whether an issuer is one of the public CAs Microsoft
// uses, as opposed to a proxy's private CA.
func publicCA(issuer string) bool {
	l := strings.ToLower(issuer)
	for _, p := range []string{"digicert", "microsoft azure", "microsoft rsa", "microsoft ecc", "baltimore", "globalsign", "entrust"} {
		if strings.Contains(l, p) {
			return true
		}
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
