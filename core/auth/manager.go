package auth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"emergencydesk/core/config"
	"emergencydesk/core/msgraph"
)

// Clock is the time source; tests pass a fake one to simulate days.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Vault is the part of *secrets.Vault the manager uses.
type Vault interface {
	Get(name string) (string, error)
	Set(name, value string) error
	Delete(name string) error
}

// Options configure a Manager.
type Options struct {
	Config config.Config // ClientID, TenantID, cloud, scopes, RefreshTokenExpirationMinutes
	Vault  Vault         // holds secrets.TokenCache
	// HTTPClient overrides the client built from the system roots plus
	// Config.Cloud.ExtraCABundle and ExtraCAPEM.
	HTTPClient *http.Client
	// ExtraCAPEM is trusted in addition to the system roots (e.g. the
	// emulator CA).
	ExtraCAPEM []byte
	Clock      Clock
	Logger     *slog.Logger
	// OnHealth receives every health change, in order, synchronously from
	// the goroutine that made it (so none is ever dropped). It must not
	// block for long; it may call the Manager.
	OnHealth func(Health)
	// WakeInterval bounds how long the refresher sleeps before re-checking
	// wall time (sleep/resume, clock jumps). Default 1 minute.
	WakeInterval time.Duration
}

// Prompt is what the person signing in must see.
type Prompt struct {
	UserCode        string
	VerificationURL string
	ExpiresAt       time.Time
	Message         string // Microsoft's own sentence
}

// Account is a signed-in monitoring user.
type Account struct {
	HomeAccountID string // MSAL key; the userID everywhere in this package
	ObjectID      string
	UPN           string
	DisplayName   string
	AddedAt       time.Time
}

// ConfigUser converts to the settings' form.
func (a Account) ConfigUser() config.User {
	u := config.User{HomeAccountID: a.HomeAccountID, ObjectID: a.ObjectID, UPN: a.UPN, DisplayName: a.DisplayName}
	if !a.AddedAt.IsZero() {
		u.AddedAt = a.AddedAt.UTC().Format(time.RFC3339)
	}
	return u
}

// user is the manager's per-account state.
type user struct {
	acct        Account
	state       State
	atExpiry    time.Time // wall clock
	atLifetime  time.Duration
	lastRefresh time.Time
	rtIssued    time.Time
	nextRetry   time.Time // set while failing
	failures    int
	lastErr     *Explanation
	lastHealth  Health
}

// Manager owns the MSAL public client, the token cache and the users.
type Manager struct {
	opts     Options
	log      *slog.Logger
	clock    Clock
	pca      public.Client
	cache    *vaultCache
	hc       *http.Client
	graph    string
	scopes   []string
	rtWindow time.Duration

	tokMu    sync.Mutex // serialises MSAL token calls
	mu       sync.Mutex // guards users
	users    map[string]*user
	notifyMu sync.Mutex // keeps OnHealth calls ordered
	kick     chan struct{}
}

// Entra's refresh token inactivity limit.
const entraInactivity = 90 * 24 * time.Hour

// New builds a Manager, loads the token cache from the vault and lists the
// accounts in it. profiles (from settings) supply names until /me is read.
func New(opts Options, profiles ...config.User) (*Manager, error) {
	c := opts.Config
	if c.OAuth.ClientID == "" {
		return nil, errors.New("auth: Client ID is empty: copy the Application (client) ID from the app registration's Overview page into OAuth Settings")
	}
	if c.OAuth.TenantID == "" {
		return nil, errors.New("auth: Tenant ID is empty: copy the Directory (tenant) ID from the app registration's Overview page into OAuth Settings")
	}
	if opts.Vault == nil {
		return nil, errors.New("auth: no vault: the token cache must live in the OS keyring")
	}
	ep, err := c.Endpoints()
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	scopes := c.GraphScopes()
	if len(scopes) == 0 {
		return nil, errors.New("auth: no Graph permissions are checked in the Permissions tab; check at least User.Read and Chat.Read")
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.WakeInterval <= 0 {
		opts.WakeInterval = time.Minute
	}
	hc := opts.HTTPClient
	if hc == nil {
		if hc, err = newHTTPClient(c.Cloud.ExtraCABundle, opts.ExtraCAPEM); err != nil {
			return nil, err
		}
	}
	rtMin := c.OAuth.RefreshTokenExpirationMinutes
	if rtMin <= 0 {
		rtMin = config.DefaultRefreshTokenExpirationMinutes
	}
	rtWindow := min(time.Duration(rtMin)*time.Minute, entraInactivity)

	m := &Manager{opts: opts, log: opts.Logger, clock: opts.Clock, hc: hc, graph: ep.Graph,
		scopes: scopes, rtWindow: rtWindow, users: map[string]*user{}, kick: make(chan struct{}, 1)}
	m.cache = &vaultCache{vault: opts.Vault}
	if err := m.cache.load(); err != nil {
		return nil, err
	}
	m.pca, err = public.New(c.OAuth.ClientID, public.WithAuthority(ep.Authority),
		public.WithHTTPClient(hc), public.WithCache(m.cache),
		// Instance discovery asks login.microsoftonline.com about the
		// authority host, which fails for national-cloud overrides and the
		// emulator; the authority is configured explicitly instead.
		public.WithInstanceDiscovery(false))
	if err != nil {
		return nil, fmt.Errorf("auth: authority %s: %w", ep.Authority, err)
	}
	accts, err := m.pca.Accounts(context.Background())
	if err != nil {
		return nil, wrap("load accounts", err)
	}
	for _, a := range accts {
		acc := Account{HomeAccountID: a.HomeAccountID, ObjectID: a.LocalAccountID, UPN: a.PreferredUsername, DisplayName: a.Name}
		for _, p := range profiles {
			if p.HomeAccountID == a.HomeAccountID {
				acc.ObjectID, acc.DisplayName = orStr(p.ObjectID, acc.ObjectID), orStr(p.DisplayName, acc.DisplayName)
				acc.UPN = orStr(p.UPN, acc.UPN)
				acc.AddedAt, _ = time.Parse(time.RFC3339, p.AddedAt)
			}
		}
		// Expiry is unknown until the first refresh, which the refresher
		// does at once.
		m.users[a.HomeAccountID] = &user{acct: acc, state: ExpiringSoon}
	}
	return m, nil
}

func orStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newHTTPClient(bundlePath string, extra []byte) (*http.Client, error) {
	pool, _ := config.RootCAs(nil)
	if bundlePath != "" {
		pem, err := os.ReadFile(bundlePath)
		if err != nil {
			return nil, fmt.Errorf("auth: Extra CA bundle %s cannot be read: %w", bundlePath, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("auth: Extra CA bundle %s holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)", bundlePath)
		}
	}
	if len(extra) > 0 && !pool.AppendCertsFromPEM(extra) {
		return nil, errors.New("auth: the extra CA PEM holds no certificate")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// Accounts lists the monitoring users, sorted by UPN.
func (m *Manager) Accounts() []Account {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Account, 0, len(m.users))
	for _, u := range m.users {
		out = append(out, u.acct)
	}
	slices.SortFunc(out, func(a, b Account) int { return cmpStr(a.UPN, b.UPN) })
	return out
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// now is the wall-clock time: monotonic readings are stripped because the
// monotonic clock stops while the machine sleeps.
func (m *Manager) now() time.Time { return m.clock.Now().Round(0) }

// SignIn runs a device code sign-in: show receives the prompt to display,
// then SignIn waits until the user approves, declines, the code expires or
// ctx is cancelled. On success the profile is read from Graph /me.
func (m *Manager) SignIn(ctx context.Context, show func(Prompt)) (Account, error) {
	dc, err := m.pca.AcquireTokenByDeviceCode(ctx, m.scopes)
	if err != nil {
		return Account{}, m.logErr(wrap("sign-in", err))
	}
	r := dc.Result
	show(Prompt{UserCode: r.UserCode, VerificationURL: r.VerificationURL, Message: r.Message,
		ExpiresAt: m.now().Add(time.Until(r.ExpiresOn))})
	m.log.Info("auth: device code sign-in started", "verification_url", r.VerificationURL)
	ar, err := dc.AuthenticationResult(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			// MSAL stops polling at expires_in on its own.
			err = &Error{Op: "sign-in", Explanation: explainOAuth("expired_token", 70020, 400), cause: err}
		}
		return Account{}, m.logErr(wrap("sign-in", err))
	}
	me, err := m.readMe(ctx, ar.AccessToken)
	if err != nil {
		// Without the profile the account cannot be shown or subscribed:
		// do not keep a half-added user.
		m.tokMu.Lock()
		_ = m.pca.RemoveAccount(context.Background(), ar.Account)
		m.tokMu.Unlock()
		return Account{}, m.logErr(err)
	}
	now := m.now()
	acc := Account{HomeAccountID: ar.Account.HomeAccountID, ObjectID: me.ID, UPN: me.UserPrincipalName,
		DisplayName: me.DisplayName, AddedAt: now}
	m.mu.Lock()
	u := m.users[acc.HomeAccountID]
	if u == nil {
		u = &user{}
		m.users[acc.HomeAccountID] = u
	} else {
		acc.AddedAt = orTime(u.acct.AddedAt, now)
	}
	u.acct = acc
	u.failures, u.lastErr, u.nextRetry = 0, nil, time.Time{}
	m.recordTokenLocked(u, ar.ExpiresOn, now)
	h := m.healthLocked(u, now)
	m.mu.Unlock()
	m.emit(h)
	m.log.Info("auth: monitoring user signed in", "upn", acc.UPN)
	m.poke()
	return acc, nil
}

func orTime(a, b time.Time) time.Time {
	if !a.IsZero() {
		return a
	}
	return b
}

func (m *Manager) readMe(ctx context.Context, token string) (msgraph.User, error) {
	var me msgraph.User
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.graph+"/me", nil)
	if err != nil {
		return me, fmt.Errorf("auth: Graph URL %s: %w", m.graph, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := m.hc.Do(req)
	if err != nil {
		return me, &Error{Op: "read profile", Explanation: Explanation{Summary: "Microsoft Graph could not be reached to read the signed-in user's profile",
			Fix: "Check the network and the Graph URL in Cloud settings, then sign in again", Transient: true}, Detail: redact(err.Error()), cause: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var ge msgraph.ErrorResponse
		_ = json.Unmarshal(body, &ge)
		ex := Explanation{Summary: "Microsoft Graph refused to read the signed-in user's profile (/me)",
			Fix: "Make sure User.Read is checked in Permissions and granted on the app registration, then sign in again"}
		return me, &Error{Op: "read profile", Explanation: ex,
			Detail: redact("HTTP " + strconv.Itoa(resp.StatusCode) + " " + ge.Error.Code)}
	}
	if err := json.Unmarshal(body, &me); err != nil || me.ID == "" {
		return me, &Error{Op: "read profile", Explanation: Explanation{Summary: "Microsoft Graph returned an unreadable profile for /me",
			Fix: "Check the Graph URL in Cloud settings"}}
	}
	return me, nil
}

// Remove signs userID out: its tokens leave the MSAL cache (and so the
// vault) and its health becomes signed_out. Deleting its Graph
// subscription is the caller's job.
func (m *Manager) Remove(ctx context.Context, userID string) error {
	m.mu.Lock()
	u := m.users[userID]
	delete(m.users, userID)
	m.mu.Unlock()
	if u == nil {
		return ErrUnknownUser
	}
	m.tokMu.Lock()
	defer m.tokMu.Unlock()
	accts, err := m.pca.Accounts(ctx)
	if err != nil {
		return wrap("sign out", err)
	}
	for _, a := range accts {
		if a.HomeAccountID == userID {
			if err := m.pca.RemoveAccount(ctx, a); err != nil {
				return wrap("sign out", err)
			}
		}
	}
	if err := m.cache.lastErr(); err != nil {
		return err
	}
	m.emit(Health{UserID: userID, UPN: u.acct.UPN, DisplayName: u.acct.DisplayName, State: SignedOut})
	m.log.Info("auth: monitoring user signed out", "upn", u.acct.UPN)
	m.poke()
	return nil
}

func (m *Manager) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *Manager) logErr(err error) error {
	if err != nil && !errors.Is(err, context.Canceled) {
		m.log.Warn("auth: " + err.Error())
	}
	return err
}

// AccessToken returns a Graph access token for userID, refreshing it when
// it is close to expiry by wall time, or always when forceRefresh (after a
// 401 from Graph).
func (m *Manager) AccessToken(ctx context.Context, userID string, forceRefresh bool) (string, error) {
	m.tokMu.Lock()
	defer m.tokMu.Unlock()
	m.mu.Lock()
	u := m.users[userID]
	if u == nil {
		m.mu.Unlock()
		return "", ErrUnknownUser
	}
	if u.state == ReauthRequired {
		ex := Explanation{Summary: "The monitoring user must sign in again", Fix: "Use Sign in again for this user", Reauth: true}
		if u.lastErr != nil {
			ex = *u.lastErr
		}
		m.mu.Unlock()
		return "", &Error{Op: "token", Explanation: ex, cause: ErrReauthRequired}
	}
	now := m.now()
	need := forceRefresh || u.atExpiry.IsZero() || !now.Before(u.atExpiry.Add(-lead(u.atLifetime)))
	m.mu.Unlock()
	return m.acquire(ctx, userID, need)
}

// lead is how long before expiry a token is renewed: a quarter of its
// lifetime, at most 10 minutes (MSAL itself treats the last 5 minutes as
// expired).
func lead(life time.Duration) time.Duration {
	if life <= 0 {
		return 5 * time.Minute
	}
	return min(life/4, 10*time.Minute)
}

// acquire calls MSAL silently; refresh forces a refresh-token redemption.
// Caller holds tokMu.
func (m *Manager) acquire(ctx context.Context, userID string, refresh bool) (string, error) {
	var acct public.Account
	accts, err := m.pca.Accounts(ctx)
	if err != nil {
		return "", m.fail(userID, wrap("token", err))
	}
	found := false
	for _, a := range accts {
		if a.HomeAccountID == userID {
			acct, found = a, true
		}
	}
	if !found {
		return "", m.fail(userID, &Error{Op: "token", Explanation: Explanation{Summary: "No saved sign-in was found for this user",
			Fix: "Sign the monitoring user in again", Reauth: true}, cause: ErrReauthRequired})
	}
	opts := []public.AcquireSilentOption{public.WithSilentAccount(acct)}
	if refresh {
		// MSAL Go's public client has no force-refresh option; a claims
		// request makes it skip cached access tokens and redeem the
		// refresh token. nbf=now is the claims challenge Graph itself
		// sends (CAE): "a token issued after now", i.e. a fresh one.
		opts = append(opts, public.WithClaims(fmt.Sprintf(`{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`, time.Now().Unix())))
	}
	ar, err := m.pca.AcquireTokenSilent(ctx, m.scopes, opts...)
	if err == nil {
		err = m.cache.lastErr() // a token we could not persist is a failure
	}
	if err != nil {
		return "", m.fail(userID, wrap("refresh", err))
	}
	now := m.now()
	m.mu.Lock()
	u := m.users[userID]
	var h Health
	changed := false
	if u != nil {
		if ar.Metadata.TokenSource == public.TokenSourceIdentityProvider {
			m.recordTokenLocked(u, ar.ExpiresOn, now)
		}
		old := u.lastHealth
		h = m.healthLocked(u, now)
		changed = h.changed(old)
	}
	m.mu.Unlock()
	if changed {
		m.emit(h)
	}
	return ar.AccessToken, nil
}

// recordTokenLocked notes a token response. MSAL's ExpiresOn is computed
// from the real clock; the lifetime carries over to our clock.
func (m *Manager) recordTokenLocked(u *user, expiresOn, now time.Time) {
	life := time.Until(expiresOn).Round(time.Second)
	if life < 0 {
		life = 0
	}
	u.atLifetime, u.atExpiry = life, now.Add(life)
	u.lastRefresh, u.rtIssued = now, now // every response rotates the refresh token
	u.failures, u.nextRetry, u.lastErr = 0, time.Time{}, nil
	u.state = Healthy
}

// fail records a failed acquisition for userID.
func (m *Manager) fail(userID string, err error) error {
	ex := Explain(err)
	if errors.Is(err, context.Canceled) {
		return err
	}
	now := m.now()
	m.mu.Lock()
	u := m.users[userID]
	if u == nil {
		m.mu.Unlock()
		return err
	}
	u.lastErr = &ex
	u.failures++
	if ex.Reauth {
		u.state = ReauthRequired
	} else {
		u.state = RefreshFailing
		u.nextRetry = now.Add(backoff(u.failures))
	}
	h := m.healthLocked(u, now)
	m.mu.Unlock()
	m.emit(h)
	m.log.Warn("auth: token refresh failed", "upn", h.UPN, "state", h.State, "error", err.Error())
	return err
}
