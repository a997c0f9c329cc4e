package diagnose

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"emergencydesk/core/config"
	"emergencydesk/core/eventhub"
	"emergencydesk/core/graph"
	"emergencydesk/core/logging"
)

// Vault is the read side of *secrets.Vault.
type Vault interface {
	Get(name string) (string, error)
}

// Resolver looks host names up; *net.Resolver satisfies it. Tests inject
// one that maps Microsoft's names to loopback.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Dialer opens TCP connections; *net.Dialer satisfies it.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// TokenInfo is what a silent token acquisition tells diagnostics.
type TokenInfo struct {
	// AccessToken is used for the Graph checks and never shown.
	AccessToken string
	// Scopes are the granted scopes (token response "scope" / "scp").
	Scopes    []string
	ExpiresOn time.Time
	// RefreshTokenIssued is when the current refresh token was obtained
	// (zero when unknown); compared with Refresh Token Expiration Minutes.
	RefreshTokenIssued time.Time
}

// TokenProber gets a monitoring user's token without user interaction,
// refreshing it if needed (core/auth implements it).
type TokenProber interface {
	SilentToken(ctx context.Context, u config.User) (TokenInfo, error)
}

// Deps are the parts diagnostics uses. Only Vault is required; a nil
// Tokens skips the identity and Graph checks with a reason.
type Deps struct {
	Vault    Vault
	Resolver Resolver // default net.DefaultResolver
	Dialer   Dialer   // default *net.Dialer
	Tokens   TokenProber
	// ExplainAuth maps a token error to a summary and a fix (core/auth's
	// AADSTS explanation); nil uses this package's table.
	ExplainAuth func(err error) (summary, fix string)
	// SubscriptionState returns what the desk believes about a user's
	// subscription; default reads graph.StateName(userID) from Vault.
	SubscriptionState func(userID string) (graph.State, error)
	// SubscriptionProblem returns the desk's last failure creating or
	// renewing the user's subscription, explained (graph.Health's LastError
	// and Fix); empty when none or unknown.
	SubscriptionProblem func(u config.User) (summary, fix string)
	// Offsets are this desk's stored positions (for lag); may be nil.
	Offsets eventhub.OffsetStore
	// HubProbe defaults to eventhub.Probe.
	HubProbe func(ctx context.Context, conn eventhub.Conn, store eventhub.OffsetStore, log *slog.Logger) (eventhub.ProbeResult, error)
	Logger   *slog.Logger
	Now      func() time.Time
}

// Options tune a run.
type Options struct {
	// EndToEnd also reads recent hub records for Graph's validation record.
	EndToEnd bool
	// CheckTimeout bounds each network check (default 4 s).
	CheckTimeout time.Duration
	// Budget bounds the whole run (default 13 s); checks that cannot start
	// in time are skipped.
	Budget time.Duration
}

const (
	DefaultCheckTimeout = 4 * time.Second
	DefaultBudget       = 13 * time.Second
)

// runner holds one run's state.
type runner struct {
	cfg      config.Config
	deps     Deps
	opts     Options
	log      *slog.Logger
	deadline time.Time

	endpoints    config.Endpoints
	endpointsErr error
	cs           config.ConnString
	csOK         bool
	settingsOK   bool
	roots        *x509.CertPool
	secretsSeen  []string

	mu       sync.Mutex
	resolved map[string][]string // host → addresses (from the DNS checks)
	hub      *hubState
	results  map[string]Check
}

// Run walks the chain and returns the report. It never returns an error:
// every problem is a check.
func Run(ctx context.Context, cfg config.Config, deps Deps, opts Options) Report {
	if deps.Resolver == nil {
		deps.Resolver = net.DefaultResolver
	}
	if deps.Dialer == nil {
		deps.Dialer = &net.Dialer{}
	}
	if deps.HubProbe == nil {
		deps.HubProbe = eventhub.Probe
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.SubscriptionState == nil {
		deps.SubscriptionState = func(uid string) (graph.State, error) { return loadState(deps.Vault, uid) }
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = DefaultCheckTimeout
	}
	if opts.Budget <= 0 {
		opts.Budget = DefaultBudget
	}
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Budget)
	defer cancel()
	r := &runner{cfg: cfg, deps: deps, opts: opts, log: log.With("component", "diagnose"),
		deadline: start.Add(opts.Budget), resolved: map[string][]string{}, results: map[string]Check{}}
	r.endpoints, r.endpointsErr = cfg.Endpoints()
	r.roots = rootPool(cfg.Cloud.ExtraCABundle)

	var order []string
	add := func(ids ...string) { order = append(order, ids...) }

	// 1. Settings.
	add(IDSettings)
	r.run(ctx, IDSettings, "Settings complete and valid", r.checkSettings)

	// 2. DNS, concurrently.
	add(IDDNSLogin, IDDNSGraph, IDDNSEventHub)
	r.parallel(ctx,
		job{IDDNSLogin, "DNS: login host resolves", r.dnsCheck(targetLogin)},
		job{IDDNSGraph, "DNS: Graph host resolves", r.dnsCheck(targetGraph)},
		job{IDDNSEventHub, "DNS: Event Hub namespace resolves", r.dnsCheck(targetHub)},
	)

	// 3. TCP + TLS, concurrently.
	add(IDTLSLogin, IDTLSGraph, IDTLSEventHub)
	r.parallel(ctx,
		job{IDTLSLogin, "TCP 443 and TLS to the login service", r.tlsCheck(targetLogin)},
		job{IDTLSGraph, "TCP 443 and TLS to Microsoft Graph", r.tlsCheck(targetGraph)},
		job{IDTLSEventHub, "TCP 9093 and TLS to the Event Hub (Kafka)", r.tlsCheck(targetHub)},
	)

	// 4–6. Identity → Graph per user, alongside the Event Hub.
	var userJobs []func()
	if len(cfg.Users) == 0 {
		add(IDIdentity, IDGraph)
		userJobs = append(userJobs, func() {
			r.set(Check{ID: IDIdentity, Title: "Identity: monitoring user", Status: Fail,
				Detail: "no monitoring user is signed in, so no subscription exists and no alert can arrive",
				Fix:    "Teams Integration → Add Monitoring User, then complete the device code sign-in with the dedicated service account"})
			r.set(Check{ID: IDGraph, Title: "Graph: /me and subscription", Status: Skip, Detail: "skipped: no monitoring user"})
		})
	}
	for _, u := range cfg.Users {
		idID, grID := UserCheckID(IDIdentity, u.ObjectID), UserCheckID(IDGraph, u.ObjectID)
		add(idID, grID)
		name := userLabel(u)
		userJobs = append(userJobs, func() {
			tok, ok := r.runIdentity(ctx, idID, "Identity: "+name, u)
			if !ok {
				r.skip(grID, "Graph: /me and subscription for "+name, "skipped: the identity check of this user did not pass ("+idID+")")
				return
			}
			r.run(ctx, grID, "Graph: /me and subscription for "+name, func(ctx context.Context) Check { return r.checkGraph(ctx, u, tok) })
		})
	}
	add(IDHubAuth, IDHubTopic, IDHubLag)
	var wg sync.WaitGroup
	for _, f := range append(userJobs, func() { r.checkHub(ctx) }) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	wg.Wait()

	// 7. End to end.
	if opts.EndToEnd {
		add(IDEndToEnd)
		r.run(ctx, IDEndToEnd, "End to end: Graph reached the Event Hub", r.checkEndToEnd)
	}

	rep := Report{Started: start}
	for _, id := range order {
		c, ok := r.results[id]
		if !ok {
			c = Check{ID: id, Title: id, Status: Skip, Detail: "skipped: not run"}
		}
		c.Detail, c.Fix = r.scrub(c.Detail), r.scrub(c.Fix)
		rep.Checks = append(rep.Checks, c)
	}
	rep.Duration = time.Since(start)
	return rep
}

type job struct {
	id, title string
	fn        func(context.Context) Check
}

func (r *runner) parallel(ctx context.Context, jobs ...job) {
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() { defer wg.Done(); r.run(ctx, j.id, j.title, j.fn) }()
	}
	wg.Wait()
}

// run executes fn under the per-check timeout (cut to what is left of the
// budget), timing it and turning a panic into a failed check.
func (r *runner) run(ctx context.Context, id, title string, fn func(context.Context) Check) Check {
	left := time.Until(r.deadline)
	if left < 100*time.Millisecond || ctx.Err() != nil {
		return r.skip(id, title, fmt.Sprintf("skipped: the diagnostics time budget (%s) was used up by earlier checks", r.opts.Budget))
	}
	cctx, cancel := context.WithTimeout(ctx, min(r.opts.CheckTimeout, left))
	defer cancel()
	start := time.Now()
	var c Check
	func() {
		defer func() {
			if p := recover(); p != nil {
				r.log.Error("diagnostic check panicked", "check", id, "panic", fmt.Sprint(p))
				c = Check{Status: Fail, Detail: fmt.Sprintf("internal error in this check: %v", p), Fix: "report this bug with the log file"}
			}
		}()
		c = fn(cctx)
	}()
	c.ID, c.Duration = id, time.Since(start)
	if c.Title == "" {
		c.Title = title
	}
	r.log.Info("diagnostic check", "check", id, "status", c.Status, "duration", c.Duration)
	r.set(c)
	return c
}

func (r *runner) skip(id, title, reason string) Check {
	c := Check{ID: id, Title: title, Status: Skip, Detail: reason}
	r.set(c)
	return c
}

func (r *runner) set(c Check) {
	r.mu.Lock()
	r.results[c.ID] = c
	r.mu.Unlock()
}

func (r *runner) get(id string) (Check, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.results[id]
	return c, ok
}

// passed reports whether the check ran and did not fail or skip.
func (r *runner) passed(id string) bool {
	c, ok := r.get(id)
	return ok && (c.Status == Pass || c.Status == Warn)
}

// need returns a skip reason when any prerequisite did not pass.
func (r *runner) need(ids ...string) string {
	for _, id := range ids {
		if !r.passed(id) {
			c, _ := r.get(id)
			return fmt.Sprintf("skipped: depends on %s (%s), which did not pass", id, c.Title)
		}
	}
	return ""
}

// scrub removes every secret this run saw, and anything that looks like
// one, from text shown to the user.
func (r *runner) scrub(s string) string {
	for _, v := range r.secretsSeen {
		if len(v) >= 6 {
			s = strings.ReplaceAll(s, v, logging.Mask)
		}
	}
	return logging.Redact(s)
}

func (r *runner) addSecret(v string) {
	if v = strings.TrimSpace(v); v != "" {
		r.mu.Lock()
		r.secretsSeen = append(r.secretsSeen, v)
		r.mu.Unlock()
	}
}

func userLabel(u config.User) string {
	switch {
	case u.UPN != "":
		return u.UPN
	case u.DisplayName != "":
		return u.DisplayName
	}
	return u.ObjectID
}

// rootPool is the system roots plus the extra CA bundle, as the app uses.
func rootPool(bundle string) *x509.CertPool {
	var pem []byte
	if bundle != "" {
		pem, _ = os.ReadFile(bundle) // an unreadable bundle is the settings check's finding
	}
	pool, _ := config.RootCAs(pem)
	return pool
}

// readSecret returns the named secret, or "" and a problem sentence.
func readSecret(v Vault, name string) (string, error) {
	if v == nil {
		return "", fmt.Errorf("no vault was given to diagnostics")
	}
	return v.Get(name)
}
