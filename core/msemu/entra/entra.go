package entra

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"emergencydesk/core/msemu/emuca"
	"emergencydesk/core/msemu/emutoken"
)

// GraphAudience is the aud claim of the access tokens this emulator mints
// (Graph v1 tokens carry the resource URI).
const GraphAudience = "https://graph.microsoft.com"

// Clock gives the emulator its idea of now.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// User is a directory user the emulator can sign in.
type User struct {
	ID          string // object id (oid)
	UPN         string // user principal name (preferred_username)
	DisplayName string
}

// App is an app registration.
type App struct {
	ClientID string
	Name     string
	// DisablePublicClientFlows imitates "Allow public client flows" = No:
	// device code redemption and refresh fail with AADSTS7000218.
	DisablePublicClientFlows bool
}

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	TenantID     string // default: random GUID
	TenantDomain string // default: "emulator.onmicrosoft.com"
	Users        []User // default: one user, desk@<domain>
	Apps         []App  // default: one app named "Emergency Desk"
	CA           *emuca.CA
	Signer       *emutoken.Signer
	Clock        Clock
	Logger       *slog.Logger
	// Hosts are extra names for the TLS certificate (127.0.0.1 is always in).
	Hosts []string

	AccessTokenLifetime     time.Duration // default 1 h
	RefreshTokenMaxInactive time.Duration // default 90 days
	RefreshTokenGrace       time.Duration // default 0: old refresh token dies on use
	SignInFrequency         time.Duration // default 0: no Conditional Access limit
	DeviceCodeLifetime      time.Duration // default 900 s
	PollInterval            time.Duration // interval sent to clients; default 5 s
	// EnforceInterval answers slow_down to polls closer together than
	// PollInterval (RFC 8628 3.5). MSAL ignores interval, so tests that
	// want fast sign-ins leave this off.
	EnforceInterval bool
}

// Server is a running emulated Entra ID.
type Server struct {
	opts   Options
	ca     *emuca.CA
	signer *emutoken.Signer
	log    *slog.Logger
	ln     net.Listener
	srv    *http.Server
	url    string
	offset atomic.Int64 // Advance total, read without s.mu

	mu         sync.Mutex
	users      []User
	apps       map[string]App
	codes      map[string]*deviceCode // by device_code
	userCodes  map[string]string      // normalised user code → device_code
	refresh    map[string]*refreshToken
	injections []injection
	atCutoff   time.Time // access tokens issued before this are treated as expired
	stats      Stats
	formSecret []byte
	closeOnce  sync.Once
	serveErrCh chan error
}

// Stats count requests, for tests.
type Stats struct {
	DeviceCodeRequests int
	TokenRequests      int
	RefreshGrants      int
	DeviceCodeGrants   int
	TokensIssued       int
}

type deviceCode struct {
	userCode  string
	clientID  string
	scopes    []string
	expiresAt time.Time
	lastPoll  time.Time
	state     int // 0 pending, 1 approved, 2 declined, 3 redeemed
	user      User
}

type refreshToken struct {
	user     User
	clientID string
	scopes   []string
	issuedAt time.Time // when this token was minted
	authTime time.Time // when the user last signed in interactively
	usedAt   time.Time // zero until redeemed
	revoked  bool
}

// New starts a server listening on 127.0.0.1.
func New(opts Options) (*Server, error) {
	if opts.TenantID == "" {
		opts.TenantID = newGUID()
	}
	if opts.TenantDomain == "" {
		opts.TenantDomain = "emulator.onmicrosoft.com"
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.AccessTokenLifetime <= 0 {
		opts.AccessTokenLifetime = time.Hour
	}
	if opts.RefreshTokenMaxInactive <= 0 {
		opts.RefreshTokenMaxInactive = 90 * 24 * time.Hour
	}
	if opts.DeviceCodeLifetime <= 0 {
		opts.DeviceCodeLifetime = 900 * time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 5 * time.Second
	}
	if len(opts.Users) == 0 {
		opts.Users = []User{{ID: newGUID(), UPN: "desk@" + opts.TenantDomain, DisplayName: "Security Desk"}}
	}
	if len(opts.Apps) == 0 {
		opts.Apps = []App{{ClientID: newGUID(), Name: "Emergency Desk"}}
	}
	for i, u := range opts.Users {
		if u.UPN == "" {
			return nil, fmt.Errorf("entra: user %d has no UPN", i)
		}
		if u.ID == "" {
			opts.Users[i].ID = newGUID()
		}
	}
	ca := opts.CA
	if ca == nil {
		var err error
		if ca, err = emuca.New(); err != nil {
			return nil, fmt.Errorf("entra: create CA: %w", err)
		}
	}
	signer := opts.Signer
	if signer == nil {
		signer = emutoken.NewSigner(randBytes(32))
	}
	tlsConf, err := ca.ServerTLS(opts.Hosts...)
	if err != nil {
		return nil, fmt.Errorf("entra: TLS certificate: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("entra: listen on 127.0.0.1: %w", err)
	}
	s := &Server{
		opts: opts, ca: ca, signer: signer, log: opts.Logger,
		ln:         ln,
		url:        "https://" + ln.Addr().String(),
		users:      append([]User(nil), opts.Users...),
		apps:       map[string]App{},
		codes:      map[string]*deviceCode{},
		userCodes:  map[string]string{},
		refresh:    map[string]*refreshToken{},
		formSecret: randBytes(32),
		serveErrCh: make(chan error, 1),
	}
	for _, a := range opts.Apps {
		s.apps[strings.ToLower(a.ClientID)] = a
	}
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
	go func() { s.serveErrCh <- s.srv.Serve(tls.NewListener(ln, tlsConf)) }()
	return s, nil
}

// URL is https://127.0.0.1:port.
func (s *Server) URL() string { return s.url }

// Authority is the MSAL authority for tenant ("" means the emulator's tenant id).
func (s *Server) Authority(tenant string) string {
	if tenant == "" {
		tenant = s.opts.TenantID
	}
	return s.url + "/" + tenant
}

// TenantID is the directory's tenant id.
func (s *Server) TenantID() string { return s.opts.TenantID }

// TenantDomain is the directory's initial domain.
func (s *Server) TenantDomain() string { return s.opts.TenantDomain }

// ClientID is the first registered app's client id.
func (s *Server) ClientID() string { return s.opts.Apps[0].ClientID }

// Users lists the directory.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]User(nil), s.users...)
}

// AddUser adds a user to the directory (an empty ID gets a fresh GUID).
func (s *Server) AddUser(u User) User {
	if u.ID == "" {
		u.ID = newGUID()
	}
	s.mu.Lock()
	s.users = append(s.users, u)
	s.mu.Unlock()
	return u
}

// AddApp registers an app (client id).
func (s *Server) AddApp(a App) {
	s.mu.Lock()
	s.apps[strings.ToLower(a.ClientID)] = a
	s.mu.Unlock()
}

// Signer is the emutoken signer access tokens are minted with; the Graph
// emulator verifies with it (prefer CheckAccessToken, which also honours
// ExpireAccessTokens and the emulator clock).
func (s *Server) Signer() *emutoken.Signer { return s.signer }

// CA is the emulator CA that issued the server certificate.
func (s *Server) CA() *emuca.CA { return s.ca }

// CAPEM is the CA certificate in PEM form.
func (s *Server) CAPEM() []byte { return s.ca.PEM() }

// CAPool is a pool holding only the emulator CA.
func (s *Server) CAPool() *x509.CertPool { return s.ca.Pool() }

// HTTPClient returns a client that trusts the emulator CA.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: s.ca.ClientTLS()}, Timeout: 30 * time.Second}
}

// Now is the emulator's current time (clock plus Advance offset).
func (s *Server) Now() time.Time { return s.now() }

func (s *Server) now() time.Time {
	return s.opts.Clock.Now().Add(time.Duration(s.offset.Load()))
}

// Advance moves the emulator's clock forward by d (on top of Options.Clock).
func (s *Server) Advance(d time.Duration) {
	s.offset.Add(int64(d))
}

// ExpireAccessTokens makes every access token issued so far count as
// expired for CheckAccessToken (clients still hold them in their caches,
// as after a real revocation, and must refresh on the resulting 401).
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	s.atCutoff = s.now()
	s.mu.Unlock()
}

// CheckAccessToken verifies an access token the way a resource would:
// signature, expiry at the emulator's now, and ExpireAccessTokens.
func (s *Server) CheckAccessToken(tok string) (emutoken.Claims, error) {
	s.mu.Lock()
	now, cutoff := s.now(), s.atCutoff
	s.mu.Unlock()
	c, err := s.signer.Parse(tok, now)
	if err != nil {
		return c, err
	}
	if !cutoff.IsZero() && c.Iat <= cutoff.Unix() {
		return c, emutoken.ErrExpired
	}
	return c, nil
}

// RevokeRefreshTokens revokes every refresh token of user (id or UPN), as a
// password reset or "Revoke sessions" does; returns how many were revoked.
func (s *Server) RevokeRefreshTokens(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, rt := range s.refresh {
		if !rt.revoked && (strings.EqualFold(rt.user.ID, user) || strings.EqualFold(rt.user.UPN, user)) {
			rt.revoked = true
			n++
		}
	}
	return n
}

// Stats returns request counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Close stops the server.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err = s.srv.Shutdown(ctx)
		if serr := <-s.serveErrCh; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	})
	return err
}

// Approve approves the pending device code identified by userCode as user
// (id or UPN), as a person does on /devicelogin.
func (s *Server) Approve(userCode, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dc, err := s.pendingLocked(userCode)
	if err != nil {
		return err
	}
	u, ok := s.findUserLocked(user)
	if !ok {
		return fmt.Errorf("entra: no user %q in the directory", user)
	}
	dc.state, dc.user = 1, u
	return nil
}

// Decline declines the pending device code identified by userCode.
func (s *Server) Decline(userCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dc, err := s.pendingLocked(userCode)
	if err != nil {
		return err
	}
	dc.state = 2
	return nil
}

// ErrUnknownCode means no pending device code has that user code.
var ErrUnknownCode = errors.New("entra: that code was not recognised (mistyped, already used or expired)")

func (s *Server) pendingLocked(userCode string) (*deviceCode, error) {
	id, ok := s.userCodes[normCode(userCode)]
	if !ok {
		return nil, ErrUnknownCode
	}
	dc := s.codes[id]
	if dc == nil || dc.state != 0 || !s.now().Before(dc.expiresAt) {
		return nil, ErrUnknownCode
	}
	return dc, nil
}

func (s *Server) findUserLocked(ref string) (User, bool) {
	for _, u := range s.users {
		if strings.EqualFold(u.ID, ref) || strings.EqualFold(u.UPN, ref) {
			return u, true
		}
	}
	return User{}, false
}

func normCode(c string) string {
	c = strings.ToUpper(c)
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, c)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("entra: crypto/rand failed: " + err.Error()) // never happens on supported OSes
	}
	return b
}

func newGUID() string {
	b := randBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// opaque returns an opaque token-like string of roughly n characters.
func opaque(prefix string, n int) string {
	return prefix + base64.RawURLEncoding.EncodeToString(randBytes(n*3/4))
}
