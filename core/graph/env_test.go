package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"emergencydesk/core/msemu/emuca"
	"emergencydesk/core/msemu/emutoken"
	"emergencydesk/core/msemu/graphemu"
	"emergencydesk/core/msgraph"
	"emergencydesk/core/secrets"
)

const (
	tenant  = "11111111-2222-3333-4444-555555555555"
	hubHost = "contoso-teams.servicebus.windows.net"
	hubName = "teams-events"
	scopes  = "User.Read Chat.Read Chat.ReadBasic ChatMessage.Read"
)

var (
	desk   = graphemu.User{ID: "aaaaaaaa-0000-0000-0000-000000000001", DisplayName: "Security Desk", UPN: "desk@contoso.com"}
	alex   = graphemu.User{ID: "bbbbbbbb-0000-0000-0000-000000000002", DisplayName: "Alex Doe", UPN: "alex@contoso.com"}
	sam    = graphemu.User{ID: "cccccccc-0000-0000-0000-000000000003", DisplayName: "Sam Roll", UPN: "sam@contoso.com"}
	start0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
)

// fakeClock is a settable clock whose After channels fire on Advance.
type fakeClock struct {
	mu      sync.Mutex
	t       time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.t
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.t.Add(d), ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.t) {
			w.ch <- c.t
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
	c.mu.Unlock()
}

func (c *fakeClock) pending() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.waiters) }

// memVault is an in-memory Vault (the keyring itself is tested with
// secretstest in keyring_test.go).
type memVault struct {
	mu sync.Mutex
	m  map[string]string
}

func newMemVault() *memVault { return &memVault{m: map[string]string{}} }

func (v *memVault) Get(name string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.m[name]
	if !ok {
		return "", fmt.Errorf("%s: %w", name, secrets.ErrNotFound)
	}
	return s, nil
}
func (v *memVault) Set(name, value string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.m[name] = value
	return nil
}
func (v *memVault) Delete(name string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.m, name)
	return nil
}

// tokens mints emulator tokens directly (the Entra emulator is elsewhere).
type tokens struct {
	mu      sync.Mutex
	signer  *emutoken.Signer
	now     func() time.Time
	user    graphemu.User
	scp     string
	app     string
	cached  string
	forced  int
	expired bool // next cached token is already expired
}

func (ts *tokens) AccessToken(_ context.Context, force bool) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if force {
		ts.forced++
	}
	now := ts.now()
	if ts.cached == "" || force || ts.expired {
		life := time.Hour
		if ts.expired && !force {
			life = -time.Minute
		}
		ts.expired = false
		ts.cached = ts.signer.Mint(emutoken.Claims{Aud: "https://graph.microsoft.com", Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(life).Unix(),
			Oid: ts.user.ID, Tid: tenant, PreferredUsername: ts.user.UPN, Scp: ts.scp, AppID: ts.app})
		return ts.cached, nil
	}
	// Re-mint when the emulator clock moved past expiry (fake days).
	parts, err := ts.signer.Parse(ts.cached, now.Add(5*time.Minute))
	if err != nil || parts.Exp <= now.Unix() {
		ts.cached = ts.signer.Mint(emutoken.Claims{Aud: "https://graph.microsoft.com", Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(time.Hour).Unix(),
			Oid: ts.user.ID, Tid: tenant, PreferredUsername: ts.user.UPN, Scp: ts.scp, AppID: ts.app})
	}
	return ts.cached, nil
}

type memPub struct {
	mu   sync.Mutex
	recs []msgraph.NotificationCollection
}

func (p *memPub) Publish(_ context.Context, _, value []byte) error {
	var nc msgraph.NotificationCollection
	if err := json.Unmarshal(value, &nc); err != nil {
		return err
	}
	p.mu.Lock()
	p.recs = append(p.recs, nc)
	p.mu.Unlock()
	return nil
}

func (p *memPub) items() []msgraph.ChangeNotification {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []msgraph.ChangeNotification
	for _, r := range p.recs {
		out = append(out, r.Value...)
	}
	return out
}

// last returns the last change notification (not validation, not lifecycle).
func (p *memPub) last(t testing.TB) msgraph.ChangeNotification {
	t.Helper()
	items := p.items()
	for i := len(items) - 1; i >= 0; i-- {
		if !items[i].IsValidation() && !items[i].IsLifecycle() {
			return items[i]
		}
	}
	t.Fatal("no change notification published")
	return msgraph.ChangeNotification{}
}

type env struct {
	emu    *graphemu.Server
	signer *emutoken.Signer
	clock  *fakeClock // nil when real time
	now    func() time.Time
	pub    *memPub
	hc     *http.Client
	vault  *memVault

	mu        sync.Mutex
	backfill  []msgraph.ChatMessage
	healthLog []Health
}

func newEnv(t testing.TB, real bool) *env {
	t.Helper()
	ca, err := emuca.New()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{signer: emutoken.NewSigner([]byte("graph-test")), pub: &memPub{}, vault: newMemVault()}
	e.now = time.Now
	if !real {
		e.clock = &fakeClock{t: start0}
		e.now = e.clock.Now
	}
	e.emu, err = graphemu.Start(graphemu.Options{Signer: e.signer, CA: ca, Publisher: e.pub, TenantID: tenant,
		Users: []graphemu.User{desk, alex, sam}, Monitored: []string{desk.ID}, Now: e.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.emu.Close() })
	tr := &http.Transport{TLSClientConfig: ca.ClientTLS()}
	t.Cleanup(tr.CloseIdleConnections)
	e.hc = &http.Client{Transport: tr, Timeout: 20 * time.Second}
	return e
}

func (e *env) tokens(app string) *tokens {
	return &tokens{signer: e.signer, now: e.now, user: desk, scp: scopes, app: app}
}

func (e *env) options(rich bool) Options {
	o := Options{
		BaseURL: e.emu.BaseURL, HTTPClient: e.hc, Tokens: e.tokens("emergency-desk"), Vault: e.vault,
		UserID: desk.ID, TenantID: tenant, EventHubHost: hubHost, EventHub: hubName,
		TimeoutMinutes: 4320, RichNotifications: rich,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnBackfill: func(_ context.Context, m msgraph.ChatMessage) {
			e.mu.Lock()
			e.backfill = append(e.backfill, m)
			e.mu.Unlock()
		},
		OnHealth: func(h Health) {
			e.mu.Lock()
			e.healthLog = append(e.healthLog, h)
			e.mu.Unlock()
		},
	}
	if e.clock != nil {
		o.Clock = e.clock
	}
	return o
}

func (e *env) client(t testing.TB, o Options) *Client {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) backfilled() []msgraph.ChatMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]msgraph.ChatMessage(nil), e.backfill...)
}

// live returns the emulator's subscriptions sorted by id.
func (e *env) live() []msgraph.Subscription {
	s := e.emu.Subscriptions()
	sort.Slice(s, func(i, j int) bool { return s[i].ID < s[j].ID })
	return s
}
