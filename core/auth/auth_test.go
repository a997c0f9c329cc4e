package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"emergencydesk/core/config"
	"emergencydesk/core/msemu/entra"
	"emergencydesk/core/msgraph"
	"emergencydesk/core/secrets"
	"emergencydesk/core/secrets/secretstest"
)

type env struct {
	emu   *entra.Server
	cfg   config.Config
	vault Vault
}

// newEnv starts the emulated Entra ID and a tiny Graph /me over HTTPS.
func newEnv(t testing.TB, o entra.Options, vault Vault) *env {
	t.Helper()
	emu, err := entra.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	me := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := emu.CheckAccessToken(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		if err != nil || r.URL.Path != "/v1.0/me" || !c.HasScope("User.Read") {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(msgraph.ErrorResponse{Error: msgraph.ErrorBody{Code: "InvalidAuthenticationToken", Message: "Access token is empty or invalid."}})
			return
		}
		json.NewEncoder(w).Encode(msgraph.User{ID: c.Oid, DisplayName: c.Name, UserPrincipalName: c.PreferredUsername})
	}))
	tlsConf, err := emu.CA().ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	me.TLS = tlsConf
	me.StartTLS()
	t.Cleanup(me.Close)
	cfg := config.Default()
	cfg.OAuth.ClientID, cfg.OAuth.TenantID = emu.ClientID(), emu.TenantID()
	cfg.Cloud.AuthorityURL, cfg.Cloud.GraphURL = emu.URL(), me.URL
	return &env{emu: emu, cfg: cfg, vault: vault}
}

func (e *env) manager(t testing.TB, o Options) *Manager {
	t.Helper()
	o.Config, o.Vault, o.ExtraCAPEM = e.cfg, e.vault, e.emu.CAPEM()
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// browserApprove does what a person does on /devicelogin: type the code,
// read the consent page, pick the user, press Accept (or Cancel).
func browserApprove(t testing.TB, hc *http.Client, p Prompt, upn, action string) error {
	page, err := hc.Get(p.VerificationURL)
	if err != nil {
		return err
	}
	page.Body.Close()
	resp, err := hc.PostForm(p.VerificationURL, url.Values{"otc": {p.UserCode}})
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Chat.Read") {
		return errors.New("consent page does not show the requested scopes")
	}
	flow := regexp.MustCompile(`name="flow" value="([0-9a-f]+)"`).FindSubmatch(body)
	otc := regexp.MustCompile(`name="otc" value="([A-Z0-9]+)"`).FindSubmatch(body)
	if flow == nil || otc == nil {
		return errors.New("consent form fields missing")
	}
	resp, err = hc.PostForm(p.VerificationURL, url.Values{"otc": {string(otc[1])}, "flow": {string(flow[1])}, "user": {upn}, "action": {action}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return errors.New("approve refused: " + resp.Status)
	}
	return nil
}

type recorder struct {
	mu sync.Mutex
	hs []Health
}

func (r *recorder) on(h Health) { r.mu.Lock(); r.hs = append(r.hs, h); r.mu.Unlock() }
func (r *recorder) last() Health {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.hs) == 0 {
		return Health{}
	}
	return r.hs[len(r.hs)-1]
}

func signIn(t testing.TB, e *env, m *Manager, upn string) Account {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	acc, err := m.SignIn(ctx, func(p Prompt) {
		go func() {
			if err := e.emu.Approve(p.UserCode, upn); err != nil {
				t.Error(err)
			}
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

func TestDeviceCodeHumanApprove(t *testing.T) {
	e := newEnv(t, entra.Options{}, secretstest.Vault(t))
	rec := &recorder{}
	m := e.manager(t, Options{OnHealth: rec.on})
	upn := e.emu.Users()[0].UPN
	var prompt Prompt
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	acc, err := m.SignIn(ctx, func(p Prompt) {
		prompt = p
		go func() {
			if err := browserApprove(t, e.emu.HTTPClient(), p, upn, "approve"); err != nil {
				t.Error(err)
			}
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	if prompt.UserCode == "" || !strings.Contains(prompt.Message, prompt.UserCode) || time.Until(prompt.ExpiresAt) < 14*time.Minute {
		t.Fatalf("prompt %+v", prompt)
	}
	u := e.emu.Users()[0]
	if acc.UPN != u.UPN || acc.ObjectID != u.ID || acc.DisplayName != u.DisplayName || acc.HomeAccountID != u.ID+"."+e.emu.TenantID() {
		t.Fatalf("account %+v, directory %+v", acc, u)
	}
	tok, err := m.AccessToken(ctx, acc.HomeAccountID, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.emu.CheckAccessToken(tok); err != nil {
		t.Fatal(err)
	}
	if h := rec.last(); h.State != Healthy || h.UserID != acc.HomeAccountID || h.AccessTokenExpiry.IsZero() {
		t.Fatalf("health %+v", h)
	}
	if !e.vault.(*secrets.Vault).Has(secrets.TokenCache) {
		t.Fatal("token cache not in the vault")
	}
	// Remove signs out and deletes the tokens.
	if err := m.Remove(ctx, acc.HomeAccountID); err != nil {
		t.Fatal(err)
	}
	if rec.last().State != SignedOut {
		t.Fatalf("after remove: %+v", rec.last())
	}
	m2 := e.manager(t, Options{})
	if len(m2.Accounts()) != 0 {
		t.Fatal("removed account came back from the vault")
	}
	if _, err := m.AccessToken(ctx, acc.HomeAccountID, false); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("token after remove: %v", err)
	}
}

func TestDeviceCodeOutcomes(t *testing.T) {
	e := newEnv(t, entra.Options{EnforceInterval: true, PollInterval: time.Second}, memVault())
	m := e.manager(t, Options{})
	upn := e.emu.Users()[0].UPN
	ctx := context.Background()
	run := func(show func(Prompt)) error {
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, err := m.SignIn(c, show)
		return err
	}
	// slow_down is answered to MSAL's fast polls; sign-in still completes.
	if err := run(func(p Prompt) {
		go func() { time.Sleep(200 * time.Millisecond); e.emu.Approve(p.UserCode, upn) }()
	}); err != nil {
		t.Fatalf("slow_down: %v", err)
	}
	// declined
	err := run(func(p Prompt) { go browserApprove(t, e.emu.HTTPClient(), p, upn, "decline") })
	if ex := Explain(err); !ex.Reauth || !strings.Contains(ex.Summary, "declined") {
		t.Fatalf("declined: %v / %+v", err, ex)
	}
	// expired (the emulator's clock runs past expires_in while pending)
	err = run(func(p Prompt) {
		go func() { time.Sleep(100 * time.Millisecond); e.emu.Advance(901 * time.Second) }()
	})
	if ex := Explain(err); ex.Code != 70020 || ex.Error != "expired_token" {
		t.Fatalf("expired: %v / %+v", err, ex)
	}
	// cancelled while pending
	c, cancel := context.WithCancel(ctx)
	_, err = m.SignIn(c, func(p Prompt) { go func() { time.Sleep(100 * time.Millisecond); cancel() }() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
	// public client flows disabled
	e.emu.InjectError(7000218, entra.OnDeviceCodeGrant, false)
	err = run(func(p Prompt) {})
	if ex := Explain(err); ex.Code != 7000218 || !strings.Contains(ex.Fix, "Allow public client flows") {
		t.Fatalf("7000218: %v", err)
	}
}

func TestRotationPersistedAndReloaded(t *testing.T) {
	vault := secretstest.Vault(t)
	e := newEnv(t, entra.Options{}, vault)
	m := e.manager(t, Options{})
	// Several users make a cache of tens of kilobytes.
	var accs []Account
	for i := 0; i < 12; i++ {
		u := e.emu.AddUser(entra.User{UPN: "desk" + string(rune('a'+i)) + "@" + e.emu.TenantDomain(), DisplayName: "Desk"})
		accs = append(accs, signIn(t, e, m, u.UPN))
	}
	ctx := context.Background()
	for _, a := range accs {
		if _, err := m.AccessToken(ctx, a.HomeAccountID, true); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.cache.size(); n < 20_000 {
		t.Fatalf("cache only %d bytes", n)
	}
	grants := e.emu.Stats().RefreshGrants
	// A new process-like instance: the old refresh tokens were consumed by
	// the rotation above, so only the persisted newest ones work.
	m2 := e.manager(t, Options{})
	if len(m2.Accounts()) != len(accs) {
		t.Fatalf("reloaded %d accounts, want %d", len(m2.Accounts()), len(accs))
	}
	for _, a := range accs {
		tok, err := m2.AccessToken(ctx, a.HomeAccountID, true)
		if err != nil {
			t.Fatalf("%s: %v", a.UPN, err)
		}
		if c, err := e.emu.CheckAccessToken(tok); err != nil || c.PreferredUsername != a.UPN {
			t.Fatalf("%s: %v %+v", a.UPN, err, c)
		}
	}
	if got := e.emu.Stats().RefreshGrants - grants; got != len(accs) {
		t.Fatalf("%d refresh grants, want %d", got, len(accs))
	}
	// A token revoked by Entra after ExpireAccessTokens: forceRefresh gets a new one.
	e.emu.ExpireAccessTokens()
	e.emu.Advance(time.Second)
	tok, _ := m2.AccessToken(ctx, accs[0].HomeAccountID, false)
	if _, err := e.emu.CheckAccessToken(tok); err == nil {
		t.Fatal("expected the cached token to be rejected after ExpireAccessTokens")
	}
	tok, err := m2.AccessToken(ctx, accs[0].HomeAccountID, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.emu.CheckAccessToken(tok); err != nil {
		t.Fatalf("after forceRefresh: %v", err)
	}
}

func TestAADSTSMapped(t *testing.T) {
	e := newEnv(t, entra.Options{}, memVault())
	rec := &recorder{}
	m := e.manager(t, Options{OnHealth: rec.on})
	ctx := context.Background()
	cases := []struct {
		code  int
		words string
	}{
		{7000218, "Allow public client flows"}, {65001, "consent"}, {700082, "90 days"},
		{70043, "sign-in frequency"}, {700084, "lifetime"}, {50076, "MFA"}, {50079, "register MFA"},
		{7000215, "client secret"}, {7000222, "client secret"}, {50173, "revoked"},
	}
	for _, c := range cases {
		acc := signIn(t, e, m, e.emu.Users()[0].UPN)
		if err := e.emu.InjectError(c.code, entra.OnRefresh, false); err != nil {
			t.Fatal(err)
		}
		_, err := m.AccessToken(ctx, acc.HomeAccountID, true)
		ex := Explain(err)
		if ex.Code != c.code || !strings.Contains(ex.Summary+" "+ex.Fix, c.words) || ex.Fix == "" {
			t.Errorf("AADSTS%d: got %+v", c.code, ex)
		}
		if h, _ := m.Health(acc.HomeAccountID); h.State != ReauthRequired || !strings.Contains(h.LastError, c.words) {
			t.Errorf("AADSTS%d: health %+v", c.code, h)
		}
		if rec.last().State != ReauthRequired {
			t.Errorf("AADSTS%d: listener saw %s", c.code, rec.last().State)
		}
		// no retry storm: a reauth_required user is not sent to Entra again
		before := e.emu.Stats().TokenRequests
		if _, err := m.AccessToken(ctx, acc.HomeAccountID, true); !errors.Is(err, ErrReauthRequired) {
			t.Errorf("AADSTS%d: second call %v", c.code, err)
		}
		if e.emu.Stats().TokenRequests != before {
			t.Errorf("AADSTS%d: retried a dead sign-in", c.code)
		}
	}
	// A transient failure (server unreachable) is refresh_failing, not reauth.
	acc := signIn(t, e, m, e.emu.Users()[0].UPN)
	e.emu.Close()
	_, err := m.AccessToken(ctx, acc.HomeAccountID, true)
	if ex := Explain(err); !ex.Transient || ex.Reauth {
		t.Fatalf("unreachable: %+v", ex)
	}
	if h, _ := m.Health(acc.HomeAccountID); h.State != RefreshFailing || h.NextRefresh.IsZero() {
		t.Fatalf("unreachable health %+v", h)
	}
}

func TestNoTokensInLogs(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, entra.Options{Logger: log, AccessTokenLifetime: 2 * time.Second}, memVault())
	m := e.manager(t, Options{Logger: log})
	acc := signIn(t, e, m, e.emu.Users()[0].UPN)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	var toks []string
	for i := 0; i < 3; i++ {
		tok, err := m.AccessToken(ctx, acc.HomeAccountID, true)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	e.emu.InjectError(50076, entra.OnRefresh, false)
	m.AccessToken(ctx, acc.HomeAccountID, true)
	cancel()
	<-done
	cache, _ := e.vault.Get(secrets.TokenCache)
	var raw map[string]map[string]map[string]any
	json.Unmarshal([]byte(cache), &raw)
	for _, kind := range []string{"RefreshToken", "AccessToken", "IdToken"} {
		for _, v := range raw[kind] {
			toks = append(toks, v["secret"].(string))
		}
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if len(toks) < 5 || !strings.Contains(out, "auth:") {
		t.Fatalf("test did not exercise logging (%d tokens, log %q)", len(toks), out)
	}
	for _, tok := range toks {
		for _, part := range strings.Split(tok, ".") {
			if len(part) > 16 && strings.Contains(out, part) {
				t.Fatalf("token text in logs: %q", part[:16])
			}
		}
	}
	if secretRE.MatchString(out) {
		t.Fatalf("token-like text in logs: %q", secretRE.FindString(out))
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// memVault is an in-memory Vault for tests that do not test the keyring.
type mapVault struct {
	mu sync.Mutex
	m  map[string]string
}

func memVault() *mapVault { return &mapVault{m: map[string]string{}} }

func (v *mapVault) Get(n string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.m[n]
	if !ok {
		return "", secrets.ErrNotFound
	}
	return s, nil
}
func (v *mapVault) Set(n, s string) error { v.mu.Lock(); v.m[n] = s; v.mu.Unlock(); return nil }
func (v *mapVault) Delete(n string) error { v.mu.Lock(); delete(v.m, n); v.mu.Unlock(); return nil }

func TestExplainAndRedact(t *testing.T) {
	if ex := Explain(context.Canceled); ex.Reauth || ex.Transient {
		t.Fatalf("%+v", ex)
	}
	s := redact("boom eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdef refresh=1.AQ4Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nsecond line")
	if strings.Contains(s, "eyJ") || strings.Contains(s, "AQ4A") || strings.Contains(s, "\n") {
		t.Fatalf("redact: %q", s)
	}
	for n := 1; n < 12; n++ {
		if d := backoff(n); d <= 0 || d > 5*time.Minute*5/4 {
			t.Fatalf("backoff(%d) = %v", n, d)
		}
	}
	if _, err := New(Options{Config: config.Default(), Vault: memVault()}); err == nil || !strings.Contains(err.Error(), "Client ID") {
		t.Fatalf("empty client id: %v", err)
	}
}
