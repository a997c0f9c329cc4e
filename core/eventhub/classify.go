package eventhub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"emergencydesk/core/config"
)

// Kind is the class of a connection problem, by what fixes it.
type Kind string

// Kinds of problems.
const (
	KindNone       Kind = ""
	KindConnString Kind = "connection-string" // the string itself is malformed or for another hub
	KindAuth       Kind = "auth"              // key, Listen right, Basic tier
	KindTopic      Kind = "topic"             // Event Hub Name
	KindTLS        Kind = "tls"               // certificate / TLS-inspecting proxy
	KindDNS        Kind = "dns"               // namespace name / DNS
	KindNetwork    Kind = "network"           // firewall to 9093, outage
	KindPipeline   Kind = "pipeline"          // the app cannot record alerts
	KindOther      Kind = "other"
)

// Problem is an error explained for the administrator. Summary and Fix
// never contain the connection string's key.
type Problem struct {
	Kind    Kind
	Summary string // what happened
	Fix     string // what to change
}

// Fixes shown to the administrator.
const (
	FixAuth = "check the connection string (and that its shared access policy has Listen); a Basic-tier namespace has no Kafka endpoint — Standard or higher is required"
	FixTLS  = "the hub's TLS certificate is not trusted: if a proxy or firewall inspects TLS, add its root CA as the extra CA bundle (Cloud settings); check the namespace host and the Kafka bootstrap override"
	FixNet  = "the hub cannot be reached on port 9093: allow outbound TCP 9093 to the namespace (*.servicebus.windows.net) in the firewall/proxy — Kafka does not use 443; if the hub is reachable, this is an outage and the desk keeps retrying"
	FixDNS  = "the namespace host name does not resolve: check the Endpoint in the connection string and the DNS/proxy settings (outbound TCP 9093 must also be allowed)"
)

// Error wraps an error with its Problem.
type Error struct {
	Problem
	Err error
}

func (e *Error) Error() string { return e.Summary + ": " + e.Fix }
func (e *Error) Unwrap() error { return e.Err }

// Classify explains err. It recognises both ways a bad password shows:
// Event Hubs answers SASL_AUTHENTICATION_FAILED, kfake just closes the
// connection during SASL.
func Classify(err error) Problem {
	return classify(err, "")
}

func classify(err error, hub string) Problem {
	if err == nil {
		return Problem{}
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Problem
	}
	if errors.Is(err, config.ErrConnString) {
		return Problem{KindConnString, err.Error(), "paste the event hub's \"Connection string–primary key\" (Shared access policies) into the Event Hub settings"}
	}
	if errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState) || errors.Is(err, kerr.UnsupportedSaslMechanism) {
		return Problem{KindAuth, "the Event Hubs namespace refused the sign-in (SASL authentication failed)", FixAuth}
	}
	if errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) || errors.Is(err, kerr.GroupAuthorizationFailed) {
		return Problem{KindAuth, "the namespace refused access to the event hub (TOPIC_AUTHORIZATION_FAILED)", FixAuth}
	}
	var fre *kgo.ErrFirstReadEOF
	if errors.As(err, &fre) && strings.Contains(strings.ToLower(fre.Error()), "sasl") {
		return Problem{KindAuth, "the namespace closed the connection during sign-in (SASL)", FixAuth}
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID) {
		name := "the configured event hub"
		if hub != "" {
			name = fmt.Sprintf("event hub %q", hub)
		}
		return Problem{KindTopic, name + " does not exist in the namespace", "check the Event Hub Name setting: it must be the hub's name exactly as shown in the namespace (and as in the connection string's EntityPath)"}
	}
	var (
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
		ae  tls.AlertError
	)
	if errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &cve) || errors.As(err, &rhe) || errors.As(err, &ae) {
		return Problem{KindTLS, "TLS to the hub failed: " + err.Error(), FixTLS}
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return Problem{KindDNS, "cannot resolve " + dns.Name, FixDNS}
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed) {
		return Problem{KindNetwork, "connection to the hub failed: " + err.Error(), FixNet}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return Problem{KindNetwork, "connection to the hub failed: " + err.Error(), FixNet}
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return Problem{KindNetwork, "connection to the hub failed: " + err.Error(), FixNet}
	}
	return Problem{KindOther, err.Error(), "see the log; the desk keeps retrying"}
}

// classifyRequest refines classify for an error seen on a specific Kafka
// request: EOF on SaslHandshake/SaslAuthenticate is kfake's bad password.
func classifyRequest(err error, key int16, hub string) Problem {
	if (key == 17 || key == 36) && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
		return Problem{KindAuth, "the namespace closed the connection during sign-in (SASL)", FixAuth}
	}
	return classify(err, hub)
}

// needsAdmin reports whether a problem needs a settings change rather than
// patience.
func (p Problem) needsAdmin() bool {
	switch p.Kind {
	case KindConnString, KindAuth, KindTopic, KindTLS, KindDNS:
		return true
	}
	return false
}
