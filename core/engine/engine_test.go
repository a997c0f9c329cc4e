package engine_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"emergencydesk/core/alert"
	"emergencydesk/core/config"
	"emergencydesk/core/engine"
	"emergencydesk/core/health"
	"emergencydesk/core/msemu"
	"emergencydesk/core/paths"
	"emergencydesk/core/secrets"
	"emergencydesk/core/secrets/secretstest"
)

type rig struct {
	t      testing.TB
	emu    *msemu.Emulator
	eng    *engine.Engine
	events <-chan engine.Event
	dirs   paths.Dirs
}

func newRig(t testing.TB, o msemu.Options, tweak func(*config.Config)) *rig {
	t.Helper()
	o.Logger = slog.New(slog.DiscardHandler)
	emu, err := msemu.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	return newDesk(t, emu, tweak)
}

// newDesk is one workstation (own settings, vault and alert log) on emu.
func newDesk(t testing.TB, emu *msemu.Emulator, tweak func(*config.Config)) *rig {
	t.Helper()
	vault := secretstest.Vault(t)
	dirs := paths.Under(t.TempDir())
	s, err := emu.Settings(config.Default(), dirs.Config)
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(&s.Config)
	}
	if err := config.Save(dirs.ConfigFile(), s.Config); err != nil {
		t.Fatal(err)
	}
	if err := vault.Set(secrets.ConnectionString, s.ConnectionString); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Dirs: dirs, Vault: vault, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events, unsub := eng.Subscribe()
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unsub(); cancel(); eng.Stop() })
	return &rig{t: t, emu: emu, eng: eng, events: events, dirs: dirs}
}

// next waits for the first event satisfying match.
func (r *rig) next(what string, d time.Duration, match func(engine.Event) bool) engine.Event {
	r.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-r.events:
			if match(ev) {
				return ev
			}
		case <-deadline:
			r.t.Fatalf("timed out waiting for %s (health: %+v)", what, r.eng.Health())
		}
	}
}

func (r *rig) signIn() engine.MonitoringUser {
	r.t.Helper()
	if err := r.eng.AddMonitoringUser(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	ev := r.next("device code", 20*time.Second, func(ev engine.Event) bool { _, ok := ev.(engine.DeviceCodeNeeded); return ok })
	p := ev.(engine.DeviceCodeNeeded).Prompt
	if p.UserCode == "" || !strings.Contains(p.VerificationURL, "/devicelogin") || time.Until(p.ExpiresAt) < 14*time.Minute {
		r.t.Fatalf("prompt: %+v", p)
	}
	if err := r.emu.Approve(p.UserCode); err != nil {
		r.t.Fatal(err)
	}
	ev = r.next("sign-in finished", 30*time.Second, func(ev engine.Event) bool { _, ok := ev.(engine.SignInFinished); return ok })
	sf := ev.(engine.SignInFinished)
	if sf.Err != nil || sf.User.UPN != r.emu.Desk.UPN {
		r.t.Fatalf("sign-in: %+v", sf)
	}
	return sf.User
}

// healthy waits until every link reports OK.
func (r *rig) healthy() {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if h := r.eng.Health(); h.Level == health.OK && len(h.Components) >= 3 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("chain never became healthy: %+v", r.eng.Health())
}

func (r *rig) alert(what string) alert.Alert {
	r.t.Helper()
	ev := r.next(what, 20*time.Second, func(ev engine.Event) bool { _, ok := ev.(engine.AlertRaised); return ok })
	return ev.(engine.AlertRaised).Alert
}

func TestEndToEndThroughEveryLink(t *testing.T) {
	for _, rich := range []bool{true, false} {
		name := map[bool]string{true: "rich", false: "fetched"}[rich]
		t.Run(name, func(t *testing.T) {
			r := newRig(t, msemu.Options{}, func(c *config.Config) { c.Subscription.RichNotifications = rich })
			if h := r.eng.Health(); h.Level == health.OK {
				t.Fatalf("healthy with no monitoring user: %+v", h)
			}
			u := r.signIn()
			r.healthy()
			if users := r.eng.Users(); len(users) != 1 || users[0].UPN != u.UPN || users[0].Token.State != "healthy" {
				t.Fatalf("users: %+v", users)
			}

			if _, _, err := r.emu.PostEmergencyCall(0, "911", "Building 2, Floor 3, 1 Main St, Springfield"); err != nil {
				t.Fatal(err)
			}
			a := r.alert("911 alert")
			if a.Number != "911" || a.CallerName != "Alex Doe" || !strings.Contains(a.Location, "1 Main St") || a.IsTest || a.MonitoringUser != u.UPN || a.Source != alert.SourceLive {
				t.Fatalf("911 alert: %+v", a)
			}

			// An ordinary message raises nothing; the next alert is the 933 call.
			if _, err := r.emu.PostOrdinaryMessage(context.Background(), 1, "lunch at noon?"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := r.emu.PostEmergencyCall(1, "933", "Lobby"); err != nil {
				t.Fatal(err)
			}
			b := r.alert("933 alert")
			if b.Number != "933" || !b.IsTest || b.CallerName != "Sam Rivera" {
				t.Fatalf("933 alert: %+v", b)
			}

			// Every record delivered a second time alerts nobody twice.
			redeliverAll(t, r.emu)
			if _, _, err := r.emu.PostEmergencyCall(0, "911", "Car park"); err != nil {
				t.Fatal(err)
			}
			c := r.alert("third alert")
			if c.ID == a.ID || c.ID == b.ID || c.Location != "Car park" {
				t.Fatalf("a redelivered notification alerted again: %+v", c)
			}

			// Acknowledge: recorded in the log, announced to front ends.
			if err := r.eng.Acknowledge(context.Background(), a.ID, "guard1", "units dispatched"); err != nil {
				t.Fatal(err)
			}
			r.next("ack", 5*time.Second, func(ev engine.Event) bool { x, ok := ev.(engine.AlertAcknowledged); return ok && x.ID == a.ID })
			un, err := r.eng.Alerts(context.Background(), engine.FilterUnacknowledged, 0)
			if err != nil || len(un) != 2 {
				t.Fatalf("unacknowledged: %d %v", len(un), err)
			}
			all, _ := r.eng.Alerts(context.Background(), engine.FilterAll, 0)
			if len(all) != 3 {
				t.Fatalf("alert log holds %d alerts, want 3", len(all))
			}

			// Test integration over the running chain: nothing fails.
			rep, err := r.eng.Diagnose(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range rep.Checks {
				if c.Status == "fail" {
					t.Errorf("diagnostic %s failed: %s (%s)", c.ID, c.Detail, c.Fix)
				}
			}
			if len(rep.Checks) < 8 {
				t.Errorf("only %d checks ran", len(rep.Checks))
			}
		})
	}
}

// redeliverAll copies every record in the hub to the end of the hub, as a
// retrying producer would.
func redeliverAll(t *testing.T, emu *msemu.Emulator) {
	t.Helper()
	h := emu.Hub
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.Addr()), kgo.DialTLSConfig(&tls.Config{RootCAs: emu.CA.Pool(), ServerName: h.Host()}),
		kgo.SASL(plain.Auth{User: "$ConnectionString", Pass: h.ConnectionString()}.AsMechanism()),
		kgo.ConsumeTopics(h.HubName()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := h.EndOffsets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := int64(0)
	for _, e := range ends {
		want += e
	}
	var values [][]byte
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for int64(len(values)) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records", len(values), want)
		}
		fs.EachRecord(func(r *kgo.Record) { values = append(values, r.Value) })
	}
	for _, v := range values {
		if err := h.Publish(context.Background(), nil, v); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTwoDesksShareOneSubscription: two workstations sign in the same
// monitoring user. Graph allows one subscription per resource and app, so
// they must share it (same derived clientState) without replacing each
// other's, and both must raise every call.
func TestTwoDesksShareOneSubscription(t *testing.T) {
	emu, err := msemu.Start(msemu.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	a, b := newDesk(t, emu, nil), newDesk(t, emu, nil)
	a.signIn()
	a.healthy()
	b.signIn()
	b.healthy()
	subs := func() int {
		n := 0
		for _, s := range emu.Graph.Subscriptions() {
			if strings.Contains(s.Resource, emu.Desk.ID) {
				n++
			}
		}
		return n
	}
	for round := 0; round < 3; round++ {
		if n := subs(); n != 1 {
			t.Fatalf("round %d: %d subscriptions for the monitoring user, want 1", round, n)
		}
		_, id, err := emu.PostEmergencyCall(round%2, "911", "Gate "+string(rune('A'+round)))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []*rig{a, b} {
			if got := d.alert("alert on each desk"); got.ID != id {
				t.Fatalf("round %d: desk got %s, want %s", round, got.ID, id)
			}
		}
		// Both desks re-check their subscription (as their timers do).
		if err := a.eng.Resubscribe(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := b.eng.Resubscribe(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSettingsChangedByAScriptApplyWithoutRestart: `emergencydesk config
// set` on a running desk takes effect (here: a new recognition pattern).
func TestSettingsChangedByAScriptApplyWithoutRestart(t *testing.T) {
	r := newRig(t, msemu.Options{}, nil)
	r.signIn()
	r.healthy()
	c, err := config.Load(r.dirs.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	c.Alerts.Patterns = append(c.Alerts.Patterns, "a passé un appel d'urgence")
	if err := config.Save(r.dirs.ConfigFile(), c); err != nil {
		t.Fatal(err)
	}
	r.next("settings applied", 15*time.Second, func(ev engine.Event) bool {
		x, ok := ev.(engine.SettingsChanged)
		return ok && len(x.Config.Alerts.Patterns) == 2
	})
	r.healthy()
	if _, err := r.emu.PostOrdinaryMessage(context.Background(), 0, "Alex Doe a passé un appel d'urgence (112). Emplacement : Hall"); err != nil {
		t.Fatal(err)
	}
	a := r.alert("French wording alert")
	if !strings.Contains(a.Text, "appel d'urgence") {
		t.Fatalf("alert: %+v", a)
	}
}

// TestForgedNotificationsAreDroppedAndShown: notifications with a wrong
// clientState raise nothing, and repeated ones degrade the chain's health
// with the fix instead of silently costing calls.
func TestForgedNotificationsAreDroppedAndShown(t *testing.T) {
	r := newRig(t, msemu.Options{}, nil)
	r.signIn()
	r.healthy()
	subs := r.emu.Graph.Subscriptions()
	if len(subs) != 1 {
		t.Fatalf("subscriptions: %d", len(subs))
	}
	chatID, msgID, err := r.emu.PostEmergencyCall(0, "911", "Real call")
	if err != nil {
		t.Fatal(err)
	}
	r.alert("the real call")
	for i := 0; i < 2; i++ {
		forged := fmt.Sprintf(`{"value":[{"subscriptionId":%q,"changeType":"created","clientState":"forged","subscriptionExpirationDateTime":"2030-01-01T00:00:00Z","resource":"chats('%s')/messages('%s%d')","resourceData":{"id":"x","@odata.type":"#Microsoft.Graph.chatMessage","@odata.id":"x"},"tenantId":"t"}]}`,
			subs[0].ID, chatID, msgID, i)
		if err := r.emu.Hub.Publish(context.Background(), nil, []byte(forged)); err != nil {
			t.Fatal(err)
		}
	}
	ev := r.next("degraded health", 15*time.Second, func(ev engine.Event) bool {
		h, ok := ev.(engine.HealthChanged)
		return ok && h.Health.Level == health.Degraded && strings.Contains(h.Health.Reason, "clientState")
	})
	for _, c := range ev.(engine.HealthChanged).Health.Components {
		if c.Key == "notifications" && !strings.Contains(c.Fix, "same Event Hub connection string") {
			t.Fatalf("fix: %q", c.Fix)
		}
	}
	if all, _ := r.eng.Alerts(context.Background(), engine.FilterAll, 0); len(all) != 1 {
		t.Fatalf("forged notifications raised alerts: %d in the log", len(all))
	}
}

// TestGraphOutageLosesNoCall: without rich content every call needs a
// message fetch; while Graph answers 503 the notification is retried (not
// skipped) and the call is raised once Graph is back.
func TestGraphOutageLosesNoCall(t *testing.T) {
	r := newRig(t, msemu.Options{}, func(c *config.Config) { c.Subscription.RichNotifications = false })
	r.signIn()
	r.healthy()
	// More failures than one Resolve retries (1 + 4), so the pipeline's own
	// retry is what saves the call.
	r.emu.Graph.FailNext("/v1.0/chats/", 8, 503, 0)
	before := r.emu.Graph.Requests("GET /v1.0/chats/")
	_, id, err := r.emu.PostEmergencyCall(0, "911", "During the outage")
	if err != nil {
		t.Fatal(err)
	}
	ev := r.next("call after the outage", 60*time.Second, func(ev engine.Event) bool { _, ok := ev.(engine.AlertRaised); return ok })
	if a := ev.(engine.AlertRaised).Alert; a.ID != id {
		t.Fatalf("got %s, want %s", a.ID, id)
	}
	if n := r.emu.Graph.Requests("GET /v1.0/chats/") - before; n < 9 {
		t.Fatalf("only %d message reads: the outage was not exercised", n)
	}
}

// TestRevokedAccessTokensRecover: Entra expires every access token (as a
// policy change or a clock jump would); Graph answers 401, the desk
// refreshes and the call still arrives.
func TestRevokedAccessTokensRecover(t *testing.T) {
	r := newRig(t, msemu.Options{}, func(c *config.Config) { c.Subscription.RichNotifications = false })
	r.signIn()
	r.healthy()
	r.emu.Entra.ExpireAccessTokens()
	refreshes := r.emu.Entra.Stats().RefreshGrants
	time.Sleep(1100 * time.Millisecond) // tokens minted from now on carry a later iat
	_, id, err := r.emu.PostEmergencyCall(0, "911", "After token expiry")
	if err != nil {
		t.Fatal(err)
	}
	if a := r.alert("call after the tokens expired"); a.ID != id {
		t.Fatalf("got %s, want %s", a.ID, id)
	}
	if r.emu.Entra.Stats().RefreshGrants == refreshes {
		t.Fatal("no token refresh happened: Graph never rejected the expired token")
	}
}

// TestRemoveMonitoringUser: removing a user deletes its Graph subscription,
// signs it out (its tokens leave the vault) and forgets it; the chain
// shows that no user is signed in.
func TestRemoveMonitoringUser(t *testing.T) {
	r := newRig(t, msemu.Options{}, nil)
	u := r.signIn()
	r.healthy()
	if n := len(r.emu.Graph.Subscriptions()); n != 1 {
		t.Fatalf("%d subscriptions after sign-in", n)
	}
	if err := r.eng.RemoveMonitoringUser(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(r.emu.Graph.Subscriptions()); n != 0 {
		t.Fatalf("%d subscriptions left after removing the user", n)
	}
	if users := r.eng.Users(); len(users) != 0 {
		t.Fatalf("users after removal: %+v", users)
	}
	c, err := config.Load(r.dirs.ConfigFile())
	if err != nil || len(c.Users) != 0 {
		t.Fatalf("settings still list the user: %+v %v", c.Users, err)
	}
	if am := r.eng.Auth(); am == nil || len(am.Accounts()) != 0 {
		t.Fatalf("the token cache still holds the account")
	}
	if h := r.eng.Health(); h.Level != health.Unconfigured || !strings.Contains(h.Reason, "no monitoring user") {
		t.Fatalf("health after removal: %+v", h)
	}
}
