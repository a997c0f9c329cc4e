package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"emergencydesk/core/alert"
	"emergencydesk/core/auth"
	"emergencydesk/core/config"
	"emergencydesk/core/eventhub"
	"emergencydesk/core/graph"
	"emergencydesk/core/health"
	"emergencydesk/core/logging"
	"emergencydesk/core/msgraph"
	"emergencydesk/core/paths"
	"emergencydesk/core/secrets"
	"emergencydesk/core/store"
)

// Simulator posts calls through an emulated Teams (demo mode).
type Simulator interface {
	SimulateCall(ctx context.Context, number string) error
}

// Options configure an Engine.
type Options struct {
	Dirs   paths.Dirs
	Vault  *secrets.Vault
	Logger *slog.Logger
	// Simulator enables SimulateCall (demo mode).
	Simulator Simulator
}

// Engine runs the chain. Create with New, then Start; Stop ends it.
type Engine struct {
	o     Options
	log   *slog.Logger
	bus   *bus
	board *health.Board
	store *store.Store

	restartMu sync.Mutex
	mu        sync.Mutex
	cfg       config.Config
	rules     *alert.Rules
	auth      *auth.Manager
	graphs    map[string]*graph.Client // by auth user id (HomeAccountID)
	// clientStates are the expected clientState per user (shared by desks).
	clientStates map[string]string
	graphStop    map[string]context.CancelFunc
	// suspicious counts notifications dropped for a wrong clientState.
	suspicious     int
	lastSuspicious time.Time
	parts          context.CancelFunc // stops the running parts
	// What the running parts were built with, for adding a user without
	// a restart.
	runCtx context.Context
	runCS  config.ConnString
	runHC  *http.Client
	wg     sync.WaitGroup
	signIn context.CancelFunc
	ctx    context.Context // Start's context
	cancel context.CancelFunc
}

// New opens the alert log and loads settings; nothing runs until Start.
func New(o Options) (*Engine, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Vault == nil {
		return nil, errors.New("engine: a vault is required")
	}
	cfg, err := config.Load(o.Dirs.ConfigFile())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dirs.Data, 0o700); err != nil {
		return nil, err
	}
	st, err := store.Open(o.Dirs.AlertDB())
	if err != nil {
		return nil, err
	}
	e := &Engine{o: o, log: o.Logger, bus: newBus(), store: st, cfg: cfg, graphs: map[string]*graph.Client{}}
	e.board = health.NewBoard(func(ov health.Overall) { e.bus.publish(HealthChanged{Health: ov}) })
	e.rules = alert.NewRules(cfg.Alerts)
	// Remember which chats carried calls, so an unknown wording there is
	// noticed after a restart too.
	if recent, err := st.List(context.Background(), store.Filter{Limit: 500}); err == nil {
		for _, a := range recent {
			e.rules.NoteEmergencyChat(a.ChatID)
		}
	}
	return e, nil
}

// Start runs the parts built from the current settings.
func (e *Engine) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	e.mu.Lock()
	e.ctx, e.cancel = ctx, cancel
	e.mu.Unlock()
	if n, err := e.store.Prune(ctx, e.Config().Alerts.RetentionDays, time.Now()); err == nil && n > 0 {
		e.log.Info("engine: pruned alerts past retention", "count", n)
	}
	e.reannounce(ctx)
	go e.housekeeping(ctx)
	return e.restart()
}

// housekeeping applies settings changed outside the app (e.g. by
// `emergencydesk config set` from a deployment script) and prunes the
// alert log daily per the retention setting.
func (e *Engine) housekeeping(ctx context.Context) {
	path := e.o.Dirs.ConfigFile()
	// Saves replace the file (rename), so a new inode marks a change even
	// when two saves share a coarse mtime.
	stat := func() os.FileInfo {
		st, _ := os.Stat(path)
		return st
	}
	changed := func(a, b os.FileInfo) bool {
		if a == nil || b == nil {
			return a != b
		}
		return !os.SameFile(a, b) || !a.ModTime().Equal(b.ModTime()) || a.Size() != b.Size()
	}
	last := stat()
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	nextPrune := time.Now().Add(24 * time.Hour)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if cur := stat(); changed(last, cur) {
				last = cur
				if err := e.Reload(ctx); err != nil {
					e.log.Error("engine: settings file changed but cannot be applied", "err", err)
				}
			}
			e.clearSuspicious(now)
			if now.After(nextPrune) {
				nextPrune = now.Add(24 * time.Hour)
				if n, err := e.store.Prune(ctx, e.Config().Alerts.RetentionDays, now); err == nil && n > 0 {
					e.log.Info("engine: pruned alerts past retention", "count", n)
				}
			}
		}
	}
}

// Reload re-reads the settings file and, when it changed, applies it.
func (e *Engine) Reload(ctx context.Context) error {
	c, err := config.Load(e.o.Dirs.ConfigFile())
	if err != nil {
		return err
	}
	e.mu.Lock()
	same := reflect.DeepEqual(c, e.cfg)
	if !same {
		e.cfg = c.Clone()
	}
	e.mu.Unlock()
	if same {
		return nil
	}
	e.log.Info("engine: settings changed on disk; applying")
	e.bus.publish(SettingsChanged{Config: c.Clone()})
	return e.restart()
}

// Stop ends every part and closes the alert log.
func (e *Engine) Stop() {
	e.mu.Lock()
	cancel := e.cancel
	e.mu.Unlock()
	if cancel != nil {
		cancel() // housekeeping and any restart in flight
	}
	e.restartMu.Lock() // wait out a rebuild in progress
	e.stopParts()
	e.restartMu.Unlock()
	e.store.Close()
}

func (e *Engine) stopParts() {
	e.mu.Lock()
	cancel := e.parts
	e.parts = nil
	if e.signIn != nil {
		e.signIn()
	}
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	e.wg.Wait()
}

// restart (re)builds the parts from e.cfg.
func (e *Engine) restart() error {
	// One rebuild at a time: two interleaved ones would leave two consumers.
	e.restartMu.Lock()
	defer e.restartMu.Unlock()
	e.stopParts()
	if e.ctx == nil || e.ctx.Err() != nil {
		return nil // not started, or stopping
	}
	// Parts report health synchronously from their constructors and the
	// health callbacks take e.mu, so e.mu is held only to swap fields.
	e.mu.Lock()
	cfg := e.cfg.Clone()
	e.rules = alert.NewRules(cfg.Alerts)
	e.auth = nil
	e.graphs = map[string]*graph.Client{}
	e.clientStates, e.graphStop = map[string]string{}, map[string]context.CancelFunc{}
	ctx, cancel := context.WithCancel(e.ctx)
	e.parts = cancel
	e.mu.Unlock()
	// Keep the components that will report again (no grey flicker on the
	// tray); drop the ones whose reason may be gone.
	keep := map[string]bool{}
	for _, u := range cfg.Users {
		keep["token/"+u.HomeAccountID], keep["subscription/"+u.HomeAccountID] = true, true
	}
	for _, c := range e.board.Overall().Components {
		if !keep[c.Key] && c.Key != "eventhub" {
			e.board.Remove(c.Key)
		}
	}

	if errs := cfg.Validate().Errors(); len(errs) > 0 {
		e.board.Set(health.Component{Key: "settings", Kind: "settings", Label: "Settings", Level: levelForSettings(cfg),
			State: "incomplete", Summary: errs[0].Message, Fix: "Open Settings and fix the fields marked in red"})
		e.board.Remove("eventhub")
		return nil
	}
	connStr, err := e.o.Vault.Get(secrets.ConnectionString)
	if err != nil {
		e.board.Set(health.Component{Key: "settings", Kind: "settings", Label: "Settings", Level: health.Unconfigured,
			State: "incomplete", Summary: "the Event Hub connection string is not set", Fix: "Settings → Event Hub → Connection String"})
		e.board.Remove("eventhub")
		return nil
	}
	logging.AddSecret(connStr)
	cs, ps := cfg.ValidateConnString(connStr)
	if len(ps.Errors()) > 0 {
		e.board.Set(health.Component{Key: "settings", Kind: "settings", Label: "Settings", Level: health.Broken,
			State: "invalid", Summary: ps.Errors()[0].Message, Fix: "Settings → Event Hub → Connection String"})
		e.board.Remove("eventhub")
		return nil
	}
	if s, err := e.o.Vault.Get(secrets.ClientSecret); err == nil {
		logging.AddSecret(s)
	}
	var extraCA []byte
	if cfg.Cloud.ExtraCABundle != "" {
		extraCA, _ = os.ReadFile(cfg.Cloud.ExtraCABundle)
	}
	hc, err := httpClient(extraCA)
	if err != nil {
		return err
	}

	// Identity.
	am, err := auth.New(auth.Options{Config: cfg, Vault: e.o.Vault, ExtraCAPEM: extraCA, Logger: e.log,
		OnHealth: func(h auth.Health) {
			if ctx.Err() == nil { // a stopped part's last words are not news
				e.onTokenHealth(h)
			}
		}}, cfg.Users...)
	if err != nil {
		e.board.Set(health.Component{Key: "settings", Kind: "settings", Label: "Sign-in", Level: health.Broken,
			State: "error", Summary: err.Error(), Fix: auth.Explain(err).Fix})
		return nil
	}
	e.mu.Lock()
	e.auth = am
	e.runCtx, e.runCS, e.runHC = ctx, cs, hc
	e.mu.Unlock()
	e.supervise(ctx, "auth", am.Run)
	if len(cfg.Users) == 0 {
		e.board.Set(health.Component{Key: "users", Kind: "token", Label: "Monitoring users", Level: health.Unconfigured,
			State: "none", Summary: "no monitoring user is signed in", Fix: "MS Teams → Add Monitoring User"})
	}
	for _, u := range cfg.Users {
		e.startGraph(ctx, am, cfg, cs, hc, u)
	}

	// Event Hub.
	conn, err := eventhub.ConnFromConfig(cfg, connStr)
	if err != nil {
		e.board.Set(health.Component{Key: "eventhub", Kind: "eventhub", Label: "Event Hub", Level: health.Broken,
			State: "failed", Summary: err.Error(), Fix: eventhub.Classify(err).Fix})
		return nil
	}
	conn.ClientID = "emergencydesk-" + cfg.WorkstationID
	consumer, err := eventhub.New(eventhub.Options{Conn: conn, Store: e.store, Handler: e.handle,
		MissedWindow: eventhub.MissedWindowMinutes(cfg.EventHub.MissedWindowMinutes), Logger: e.log,
		OnHealth: func(h eventhub.Health) {
			if ctx.Err() == nil {
				e.onHubHealth(h)
			}
		}})
	if err != nil {
		p := eventhub.Classify(err)
		e.board.Set(health.Component{Key: "eventhub", Kind: "eventhub", Label: "Event Hub", Level: health.Broken,
			State: "failed", Summary: p.Summary, Fix: p.Fix})
		return nil
	}
	if !e.board.Has("eventhub") { // a rebuild keeps the last state until the new consumer reports
		e.board.Set(health.Component{Key: "eventhub", Kind: "eventhub", Label: "Event Hub", Level: health.Degraded, State: "connecting", Summary: "connecting"})
	}
	e.supervise(ctx, "eventhub", consumer.Run)
	return nil
}

func levelForSettings(c config.Config) health.Level {
	if c.OAuth.ClientID == "" && c.OAuth.TenantID == "" {
		return health.Unconfigured
	}
	return health.Broken
}

// startGraph builds and runs the Graph client of one monitoring user.
func (e *Engine) startGraph(parts context.Context, am *auth.Manager, cfg config.Config, cs config.ConnString, hc *http.Client, u config.User) {
	opts, err := graph.OptionsFromConfig(cfg, cs, u.ObjectID)
	if err != nil {
		e.log.Error("engine: graph options", "err", err)
		return
	}
	id := u.HomeAccountID
	// Each user's client has its own stop, so removing one user leaves the
	// others and the hub consumer running.
	ctx, stop := context.WithCancel(parts)
	opts.HTTPClient = hc
	opts.Tokens = tokenSource(func(ctx context.Context, force bool) (string, error) { return am.AccessToken(ctx, id, force) })
	opts.Vault = e.o.Vault
	opts.ClientState = sharedClientState(cs, u.ObjectID)
	opts.Logger = e.log
	opts.OnHealth = func(h graph.Health) {
		if ctx.Err() == nil { // a stopped client's last words are not news
			e.onSubHealth(id, u, h)
		}
	}
	opts.OnBackfill = func(ctx context.Context, m msgraph.ChatMessage) { e.recovered(ctx, u, m) }
	c, err := graph.New(opts)
	if err != nil {
		stop()
		e.log.Error("engine: graph client", "upn", u.UPN, "err", err)
		return
	}
	e.mu.Lock() // the maps are made by restart, which always runs first
	e.clientStates[id] = opts.ClientState
	e.graphStop[id] = stop
	e.graphs[id] = c
	e.mu.Unlock()
	e.supervise(ctx, "graph "+u.UPN, c.Run)
}

// sharedClientState derives the subscription clientState from the Event
// Hub key, so every desk configured with the same hub computes the same
// value: each can verify notifications of, and adopt, the one subscription
// a monitoring user may have per app (Graph answers 409 to a second one),
// and forging it needs the hub's key.
func sharedClientState(cs config.ConnString, userID string) string {
	m := hmac.New(sha256.New, []byte(cs.Key))
	m.Write([]byte("emergencydesk/clientState/v1/" + strings.ToLower(cs.Host) + "/" + userID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

type tokenSource func(ctx context.Context, force bool) (string, error)

func (t tokenSource) AccessToken(ctx context.Context, force bool) (string, error) {
	return t(ctx, force)
}

func httpClient(extraCA []byte) (*http.Client, error) {
	pool, ok := config.RootCAs(extraCA)
	if !ok {
		return nil, errors.New("the extra CA bundle holds no usable PEM certificate")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// supervise runs a part until ctx ends, restarting it with capped backoff
// when it returns or panics.
func (e *Engine) supervise(ctx context.Context, name string, run func(context.Context) error) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		delay := time.Second
		for {
			err := safeRun(ctx, run)
			if ctx.Err() != nil {
				return
			}
			e.log.Error("engine: part stopped; restarting", "part", name, "err", err, "in", delay)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(delay*2, time.Minute)
		}
	}()
}

func safeRun(ctx context.Context, run func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return run(ctx)
}

// Subscribe implements Desk.
func (e *Engine) Subscribe() (<-chan Event, func()) { return e.bus.subscribe() }

// Config implements Desk.
func (e *Engine) Config() config.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg.Clone()
}

// HasSecret implements Desk.
func (e *Engine) HasSecret(name string) bool { return e.o.Vault.Has(name) }

// Health implements Desk.
func (e *Engine) Health() health.Overall { return e.board.Overall() }

// GroupID implements Desk.
func (e *Engine) GroupID() string { return eventhub.ModeDescription() }

// DemoMode implements Desk.
func (e *Engine) DemoMode() bool { return e.o.Simulator != nil }

// SimulateCall implements Desk.
func (e *Engine) SimulateCall(ctx context.Context, number string) error {
	if e.o.Simulator == nil {
		return errors.New("simulated calls exist only in demo mode")
	}
	return e.o.Simulator.SimulateCall(ctx, number)
}

// SaveSettings implements Desk.
func (e *Engine) SaveSettings(ctx context.Context, c config.Config, sec map[string]string) (config.Problems, error) {
	ps := c.Validate()
	if cs := sec[secrets.ConnectionString]; cs != "" {
		_, cps := c.ValidateConnString(cs)
		ps = append(ps, cps...)
	} else if raw, err := e.o.Vault.Get(secrets.ConnectionString); err == nil {
		_, cps := c.ValidateConnString(raw)
		ps = append(ps, cps.Errors()...)
	}
	if len(ps.Errors()) > 0 {
		return ps, nil
	}
	for name, v := range sec {
		if v == "" {
			continue
		}
		if err := e.o.Vault.Set(name, v); err != nil {
			return ps, err
		}
		logging.AddSecret(v)
	}
	e.mu.Lock()
	c.Users = e.cfg.Users // users change only through sign-in and removal
	if err := config.Save(e.o.Dirs.ConfigFile(), c); err != nil {
		e.mu.Unlock()
		return ps, err
	}
	e.cfg = c.Clone()
	e.mu.Unlock()
	e.bus.publish(SettingsChanged{Config: c.Clone()})
	e.log.Info("engine: settings saved; applying")
	return ps, e.restart()
}

// Resubscribe implements Desk: check (and re-create if needed) every
// subscription now.
func (e *Engine) Resubscribe(ctx context.Context) error {
	e.mu.Lock()
	cs := make([]*graph.Client, 0, len(e.graphs))
	for _, c := range e.graphs {
		cs = append(cs, c)
	}
	e.mu.Unlock()
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Ensure(ctx))
	}
	return errors.Join(errs...)
}

// Acknowledge implements Desk.
func (e *Engine) Acknowledge(ctx context.Context, id, by, comment string) error {
	at := time.Now()
	if err := e.store.Acknowledge(ctx, id, by, comment, at); err != nil {
		return err
	}
	a, err := e.store.Get(ctx, id)
	ack := alert.Ack{By: by, At: at, Comment: comment}
	if err == nil && a.Acknowledged != nil {
		ack = *a.Acknowledged
	}
	e.log.Info("engine: alert acknowledged", "id", id, "by", by)
	e.bus.publish(AlertAcknowledged{ID: id, Ack: ack})
	return nil
}

func storeFilter(f Filter, limit int) store.Filter {
	sf := store.Filter{Limit: limit}
	switch f {
	case FilterUnacknowledged:
		sf.Which = store.Unacknowledged
	case FilterTest:
		sf.Which = store.Test
	}
	return sf
}

// Alerts implements Desk.
func (e *Engine) Alerts(ctx context.Context, f Filter, limit int) ([]alert.Alert, error) {
	return e.store.List(ctx, storeFilter(f, limit))
}

// ExportCSV implements Desk.
func (e *Engine) ExportCSV(ctx context.Context, w io.Writer, f Filter) error {
	return e.store.ExportCSV(ctx, w, storeFilter(f, 0))
}

// Store gives diagnostics read access to the alert log (offsets).
func (e *Engine) Store() *store.Store { return e.store }

// Auth gives diagnostics the identity manager (nil when not configured).
func (e *Engine) Auth() *auth.Manager {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.auth
}

// GraphClients gives diagnostics each monitoring user's Graph client.
func (e *Engine) GraphClients() map[string]*graph.Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]*graph.Client, len(e.graphs))
	for k, v := range e.graphs {
		out[k] = v
	}
	return out
}
