package diagnose

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
	"github.com/twmb/franz-go/pkg/kfake"

	"emergencydesk/core/config"
	"emergencydesk/core/eventhub"
	"emergencydesk/core/graph"
	"emergencydesk/core/msemu/emuca"
	"emergencydesk/core/msemu/entra"
	"emergencydesk/core/msemu/graphemu"
	"emergencydesk/core/msemu/hub"
	"emergencydesk/core/msgraph"
	"emergencydesk/core/secrets"
)

const (
	nsName    = "contoso"
	nsHost    = "contoso.servicebus.windows.net"
	graphHost = "graph.microsoft.com"
)

// mapResolver answers from a table: names it does not know are NXDOMAIN.
type mapResolver struct {
	mu    sync.Mutex
	hosts map[string][]string
	hang  map[string]bool
}

func (m *mapResolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	m.mu.Lock()
	addrs, ok := m.hosts[strings.ToLower(host)]
	hang := m.hang[strings.ToLower(host)]
	m.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, &net.DNSError{Err: "i/o timeout", Name: host, IsTimeout: true}
	}
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return addrs, nil
}

// loopbackDialer refuses to dial anything but loopback, so no test can
// reach the internet by mistake.
type loopbackDialer struct{ d net.Dialer }

func (l *loopbackDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("test dialer: refusing non-loopback address %s", addr)
	}
	return l.d.DialContext(ctx, network, addr)
}

// mapVault is an in-memory secret store for tests of single decisions.
type mapVault struct {
	mu sync.Mutex
	m  map[string]string
}

func (v *mapVault) Get(name string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.m[name]
	if !ok {
		return "", secrets.ErrNotFound
	}
	return s, nil
}

func (v *mapVault) Set(name, value string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[string]string{}
	}
	v.m[name] = value
	return nil
}

// msalProber is a stand-in for core/auth: MSAL's public client against the
// emulated Entra ID, signed in by device code.
type msalProber struct {
	pca      public.Client
	scopes   []string
	signedIn time.Time
}

func (m *msalProber) SilentToken(ctx context.Context, u config.User) (TokenInfo, error) {
	accts, err := m.pca.Accounts(ctx)
	if err != nil {
		return TokenInfo{}, err
	}
	for _, a := range accts {
		if a.HomeAccountID == u.HomeAccountID {
			res, err := m.pca.AcquireTokenSilent(ctx, m.scopes, public.WithSilentAccount(a))
			if err != nil {
				return TokenInfo{}, err
			}
			return TokenInfo{AccessToken: res.AccessToken, Scopes: res.GrantedScopes, ExpiresOn: res.ExpiresOn, RefreshTokenIssued: m.signedIn}, nil
		}
	}
	return TokenInfo{}, fmt.Errorf("no cached account for %s", u.UPN)
}

// env is the emulated Microsoft cloud: Entra ID, Graph and an Event Hubs
// namespace, reached through an injected resolver.
type env struct {
	t     *testing.T
	ca    *emuca.CA
	entra *entra.Server
	graph *graphemu.Server
	hub   *hub.Hub
	user  entra.User
	cfg   config.Config
	vault interface {
		Vault
		Set(name, value string) error
	}
	resolver *mapResolver
	prober   *msalProber
	token    string
	subProb  [2]string
}

type envOpts struct {
	basic     bool
	hubCA     *emuca.CA // nil: the shared CA
	scopes    []string  // scopes signed in with; default the guide's
	noSignIn  bool
	noSub     bool
	realVault Vault
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	ca, err := emuca.New()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ca: ca}
	e.entra, err = entra.New(entra.Options{CA: ca, AccessTokenLifetime: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.entra.Close() })
	e.user = e.entra.Users()[0]
	hubCA := o.hubCA
	if hubCA == nil {
		hubCA = ca
	}
	e.hub, err = hub.New(hub.Options{Namespace: nsName, CA: hubCA, Basic: o.basic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.hub.Close)
	e.graph, err = graphemu.Start(graphemu.Options{Signer: e.entra.Signer(), CA: ca, Hosts: []string{graphHost},
		Publisher: e.hub, TenantID: e.entra.TenantID(),
		Users: []graphemu.User{{ID: e.user.ID, DisplayName: e.user.DisplayName, UPN: e.user.UPN}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.graph.Close() })

	e.resolver = &mapResolver{hosts: map[string][]string{
		graphHost: {"127.0.0.1"},
		nsHost:    {"127.0.0.1"},
	}, hang: map[string]bool{}}
	bundle := filepath.Join(t.TempDir(), "emulator-ca.pem")
	if err := os.WriteFile(bundle, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.OAuth.ClientID = e.entra.ClientID()
	cfg.OAuth.TenantID = e.entra.TenantID()
	cfg.Cloud.AuthorityURL = e.entra.URL()
	cfg.Cloud.GraphURL = "https://" + graphHost + ":" + port(t, e.graph.URL)
	cfg.Cloud.KafkaBootstrap = nsHost + ":" + port(t, "https://"+e.hub.Addr())
	cfg.Cloud.ExtraCABundle = bundle
	cfg.EventHub.Name = e.hub.HubName()
	e.cfg = cfg
	if o.realVault != nil {
		e.vault = o.realVault.(interface {
			Vault
			Set(name, value string) error
		})
	} else {
		e.vault = &mapVault{m: map[string]string{}}
	}
	e.vault.Set(secrets.ConnectionString, e.hub.ConnectionString())
	e.vault.Set(secrets.ClientSecret, "abc8Q~clientsecretvalue1234567890ABCDEFG")

	if o.noSignIn {
		return e
	}
	scopes := o.scopes
	if scopes == nil {
		scopes = cfg.GraphScopes()
	}
	e.signIn(scopes)
	if !o.noSub {
		e.subscribe()
	}
	return e
}

func port(t *testing.T, u string) string {
	t.Helper()
	i := strings.LastIndex(u, ":")
	if i < 0 {
		t.Fatalf("no port in %s", u)
	}
	return u[i+1:]
}

func (e *env) signIn(scopes []string) {
	t := e.t
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pca, err := public.New(e.cfg.OAuth.ClientID, public.WithAuthority(e.entra.Authority("")),
		public.WithInstanceDiscovery(false), public.WithHTTPClient(e.entra.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := pca.AcquireTokenByDeviceCode(ctx, scopes)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.entra.Approve(dc.Result.UserCode, e.user.UPN); err != nil {
		t.Fatal(err)
	}
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.prober = &msalProber{pca: pca, scopes: scopes, signedIn: time.Now()}
	e.token = res.AccessToken
	e.cfg.Users = []config.User{{HomeAccountID: res.Account.HomeAccountID, ObjectID: e.user.ID, UPN: e.user.UPN, DisplayName: e.user.DisplayName}}
}

// subscribe creates the chat-message subscription as the desk would and
// records it in the vault as the graph package does. It returns Graph's
// error, if any.
func (e *env) subscribe() error {
	t := e.t
	now := time.Now()
	nu := NotificationURL(nsHost, e.hub.HubName(), e.cfg.OAuth.TenantID)
	body, _ := json.Marshal(msgraph.Subscription{ChangeType: "created", Resource: "/users/" + e.user.ID + "/chats/getAllMessages",
		NotificationURL: nu, LifecycleNotificationURL: nu, ExpirationDateTime: now.Add(72 * time.Hour).UTC().Format(time.RFC3339Nano), ClientState: "state-123456"})
	req, _ := http.NewRequest(http.MethodPost, e.graph.BaseURL+"/subscriptions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.entra.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return GraphHTTPError("create subscription", resp.StatusCode, "", buf.Bytes())
	}
	var sub msgraph.Subscription
	if err := json.Unmarshal(buf.Bytes(), &sub); err != nil {
		t.Fatal(err)
	}
	exp, _ := time.Parse(time.RFC3339Nano, sub.ExpirationDateTime)
	st, _ := json.Marshal(graph.State{SubscriptionID: sub.ID, Expiration: exp, Created: now})
	e.vault.Set(graph.StateName(e.user.ID), string(st))
	return nil
}

func (e *env) deps() Deps {
	return Deps{
		Vault:    e.vault,
		Resolver: e.resolver,
		Dialer:   &loopbackDialer{},
		Tokens:   e.prober,
		SubscriptionProblem: func(config.User) (string, string) {
			return e.subProb[0], e.subProb[1]
		},
		Offsets: eventhub.NewMemOffsets(),
	}
}

func (e *env) run(opts Options) Report {
	e.t.Helper()
	d := e.deps()
	if e.prober == nil {
		d.Tokens = nil
	}
	rep := Run(context.Background(), e.cfg, d, opts)
	var b bytes.Buffer
	WriteText(&b, rep)
	e.t.Log("\n" + b.String())
	return rep
}

// expect asserts a check's status and that its detail+fix contain each of
// the given fragments.
func expect(t *testing.T, rep Report, id string, st Status, contains ...string) Check {
	t.Helper()
	c, ok := rep.Find(id)
	if !ok {
		t.Fatalf("check %s missing from report", id)
	}
	if c.Status != st {
		t.Fatalf("check %s: status %s, want %s\ndetail: %s\nfix: %s", id, c.Status, st, c.Detail, c.Fix)
	}
	for _, s := range contains {
		if !strings.Contains(c.Detail+"\n"+c.Fix, s) {
			t.Errorf("check %s: %q not in\ndetail: %s\nfix: %s", id, s, c.Detail, c.Fix)
		}
	}
	return c
}

// namespacePolicyHub is a stand-in for a namespace whose connection string
// comes from a namespace-level policy (no EntityPath): the emulated hub only
// accepts its own event-hub-level string, so this is a bare kfake cluster
// with TLS and SASL PLAIN, as core/msemu/hub builds it.
func (e *env) namespacePolicyHub() {
	t := e.t
	cs := "Endpoint=sb://" + nsHost + "/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=bmFtZXNwYWNlbGV2ZWxrZXluYW1lc3BhY2VsZXZlbGs="
	serverTLS, err := e.ca.ServerTLS(nsHost)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, e.hub.HubName()), kfake.TLS(serverTLS),
		kfake.EnableSASL(), kfake.Superuser("PLAIN", hub.User, cs), kfake.MaxVersions(hub.Caps()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	e.cfg.Cloud.KafkaBootstrap = nsHost + ":" + addr[strings.LastIndex(addr, ":")+1:]
	e.vault.Set(secrets.ConnectionString, cs)
}
