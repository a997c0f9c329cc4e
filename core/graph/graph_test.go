package graph

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"emergencydesk/core/msemu/graphemu"
	"emergencydesk/core/msgraph"
	"emergencydesk/core/secrets"
)

func TestLifetimeAndRenewAt(t *testing.T) {
	for _, c := range []struct {
		minutes int
		want    time.Duration
	}{{4320, 4315 * time.Minute}, {10000, 4315 * time.Minute}, {4300, 4300 * time.Minute}, {60, time.Hour}, {45, 45 * time.Minute}} {
		if got := Lifetime(c.minutes); got != c.want {
			t.Errorf("Lifetime(%d) = %v, want %v", c.minutes, got, c.want)
		}
	}
	for _, life := range []time.Duration{45 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 24 * time.Hour, 4315 * time.Minute} {
		at := RenewAt(start0, start0.Add(life))
		if !at.After(start0) || !at.Before(start0.Add(life)) {
			t.Errorf("life %v: renew at %v outside the life", life, at.Sub(start0))
		}
		if at.Sub(start0) > life*2/3 {
			t.Errorf("life %v: renew at %v, later than two thirds", life, at.Sub(start0))
		}
		if life >= 2*time.Hour && start0.Add(life).Sub(at) < time.Hour {
			t.Errorf("life %v: renew only %v before expiry", life, start0.Add(life).Sub(at))
		}
	}
	if got := RenewAt(start0, start0.Add(4315*time.Minute)).Sub(start0); got != 4315*time.Minute*2/3 {
		t.Errorf("3-day renew at %v", got)
	}
}

func TestCreateRenewDelete(t *testing.T) {
	e := newEnv(t, false)
	o := e.options(false)
	o.TimeoutMinutes = 10000 // clamped
	c := e.client(t, o)
	ctx := context.Background()
	if err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	subs := e.live()
	if len(subs) != 1 {
		t.Fatalf("%d subscriptions", len(subs))
	}
	s := subs[0]
	wantURL := "EventHub:https://" + hubHost + "/eventhubname/" + hubName + "?tenantId=" + tenant
	if s.NotificationURL != wantURL || s.LifecycleNotificationURL != wantURL || s.ChangeType != "created" ||
		s.Resource != "users/"+desk.ID+"/chats/getAllMessages" || s.IncludeResourceData {
		t.Fatalf("subscription: %+v", s)
	}
	exp, _ := s.Expiration()
	if got := exp.Sub(start0); got != Lifetime(10000) || got > MaxLifetime {
		t.Fatalf("expiry in %v", got)
	}
	cs, err := e.vault.Get(secrets.ClientStateName(desk.ID))
	if err != nil || cs != s.ClientState || len(cs) < 32 || len(cs) > 128 {
		t.Fatalf("clientState in vault %q vs subscription %q (%v)", cs, s.ClientState, err)
	}
	if h := c.Health(); h.State != StateActive || h.SubscriptionID != s.ID || !h.Expiration.Equal(exp) {
		t.Fatalf("health %+v", h)
	}
	// A second Ensure just checks it.
	if err := c.Ensure(ctx); err != nil || len(e.live()) != 1 || e.live()[0].ID != s.ID {
		t.Fatalf("second Ensure: %v %+v", err, e.live())
	}
	// Not yet time to renew.
	next, err := c.Tick(ctx)
	if err != nil || e.emu.Requests("PATCH ") != 0 {
		t.Fatalf("early tick: %v, %d PATCH", err, e.emu.Requests("PATCH "))
	}
	e.clock.Advance(next.Sub(e.clock.Now()))
	if _, err := c.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	exp2, _ := e.live()[0].Expiration()
	if e.emu.Requests("PATCH ") != 1 || !exp2.After(exp) || e.live()[0].ID != s.ID {
		t.Fatalf("renewal: %d PATCH, expiry %v → %v", e.emu.Requests("PATCH "), exp, exp2)
	}
	if h := c.Health(); h.LastRenewal != e.clock.Now() || h.State != StateActive {
		t.Fatalf("health after renewal %+v", h)
	}
	// A restarted client (same vault) finds and keeps the subscription.
	c2 := e.client(t, o)
	if err := c2.Ensure(ctx); err != nil || c2.SubscriptionID() != s.ID || e.emu.Requests("POST /v1.0/subscriptions") != 1 {
		t.Fatalf("restart: %v %q", err, c2.SubscriptionID())
	}
	if err := c2.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if len(e.live()) != 0 || len(e.vault.m) != 0 {
		t.Fatalf("after Delete: %d subscriptions, vault %v", len(e.live()), e.vault.m)
	}
	if h := c2.Health(); h.State != StateMissing || h.SubscriptionID != "" {
		t.Fatalf("health after delete %+v", h)
	}
}

func TestRecreateOn404AndBackfill(t *testing.T) {
	e := newEnv(t, false)
	e.emu.SuppressLifecycle(true) // nothing tells the client
	c := e.client(t, e.options(false))
	ctx := context.Background()
	if err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	old := c.SubscriptionID()
	chat := e.emu.ChatWith(desk, sam)
	e.clock.Advance(time.Minute)
	e.emu.PostMessage(ctx, chat, sam, "before the gap", graphemu.MessageOptions{})
	e.clock.Advance(10 * time.Minute)
	if err := e.emu.RemoveSubscription(ctx, old); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	_, msgID, err := e.emu.PostEmergencyCall(alex, "911", "1 Main St, Springfield")
	if err != nil {
		t.Fatal(err)
	}
	// The renewal timer finds the hole: PATCH 404 → re-create → back-fill.
	next, _ := c.Tick(ctx)
	e.clock.Advance(next.Sub(e.clock.Now()))
	if _, err := c.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if id := c.SubscriptionID(); id == old || id == "" || len(e.live()) != 1 {
		t.Fatalf("not re-created: %q (old %q)", id, old)
	}
	if !foundCall(e.backfilled(), msgID) {
		t.Fatalf("back-fill missed the call: %+v", e.backfilled())
	}
}

func foundCall(ms []msgraph.ChatMessage, id string) bool {
	for _, m := range ms {
		if m.ID == id && m.Importance == "high" && strings.Contains(m.Body.Content, "has placed an Emergency Call") && m.From.User.ID == alex.ID {
			return true
		}
	}
	return false
}

func TestBackfillAfterTwoHourGap(t *testing.T) {
	// The app is off for two hours; meanwhile Graph drops the subscription
	// and a call is placed. On start the client re-creates and back-fills.
	e := newEnv(t, false)
	ctx := context.Background()
	c := e.client(t, e.options(false))
	if err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	chat := e.emu.ChatWith(desk, sam)
	e.emu.PostMessage(ctx, chat, sam, "old news", graphemu.MessageOptions{})
	e.clock.Advance(30 * time.Minute)
	if err := c.Ensure(ctx); err != nil { // last contact: watermark
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	e.emu.RemoveSubscription(ctx, c.SubscriptionID())
	e.clock.Advance(time.Hour)
	_, msgID, _ := e.emu.PostEmergencyCall(alex, "911", "Dock 4")
	e.clock.Advance(59 * time.Minute)

	restarted := e.client(t, e.options(false))
	if err := restarted.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	got := e.backfilled()
	if !foundCall(got, msgID) {
		t.Fatalf("call not back-filled: %+v", got)
	}
	for _, m := range got {
		if m.Body.Content == "old news" {
			t.Fatal("back-fill returned a message from before the gap")
		}
	}
}

func TestLifecycleEvents(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	c := e.client(t, e.options(false))
	if err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	id := c.SubscriptionID()
	e.emu.RequireReauthorization(ctx, id)
	ev := lastLifecycle(t, e)
	if err := c.HandleLifecycle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if n := e.emu.Requests("POST /v1.0/subscriptions/" + id + "/reauthorize"); n != 1 {
		t.Fatalf("reauthorize calls %d", n)
	}
	e.emu.RemoveSubscription(ctx, id)
	if err := c.HandleLifecycle(ctx, lastLifecycle(t, e)); err != nil {
		t.Fatal(err)
	}
	if c.SubscriptionID() == id || len(e.live()) != 1 {
		t.Fatal("not re-created after subscriptionRemoved")
	}
	// A forged lifecycle event is refused.
	forged := msgraph.ChangeNotification{SubscriptionID: c.SubscriptionID(), LifecycleEvent: msgraph.LifecycleSubscriptionRemoved, ClientState: "guess"}
	if err := c.HandleLifecycle(ctx, forged); !errors.Is(err, ErrClientState) {
		t.Fatalf("forged lifecycle: %v", err)
	}
}

func lastLifecycle(t *testing.T, e *env) msgraph.ChangeNotification {
	t.Helper()
	items := e.pub.items()
	for i := len(items) - 1; i >= 0; i-- {
		if items[i].IsLifecycle() {
			return items[i]
		}
	}
	t.Fatal("no lifecycle event")
	return msgraph.ChangeNotification{}
}

func TestAdoptOn409(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	a := e.client(t, e.options(false))
	if err := a.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	// Same vault (clientState) but the state record is lost.
	e.vault.Delete(StateName(desk.ID))
	b := e.client(t, e.options(false))
	if err := b.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if b.SubscriptionID() != a.SubscriptionID() || len(e.live()) != 1 {
		t.Fatalf("adopted %q, want %q (%d live)", b.SubscriptionID(), a.SubscriptionID(), len(e.live()))
	}
	if e.emu.Requests("GET /v1.0/subscriptions") < 1 || e.emu.Requests("PATCH ") != 1 {
		t.Fatal("adoption did not list and renew")
	}
	// With another clientState (vault lost too) the stale one is replaced.
	e.vault.m = map[string]string{}
	c := e.client(t, e.options(false))
	if err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if c.SubscriptionID() == a.SubscriptionID() || len(e.live()) != 1 {
		t.Fatal("foreign subscription adopted instead of replaced")
	}
	cs, _ := e.vault.Get(secrets.ClientStateName(desk.ID))
	if e.live()[0].ClientState != cs {
		t.Fatal("replacement does not carry the new clientState")
	}
}

func TestSubscriptionErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("send claim", func(t *testing.T) {
		e := newEnv(t, false)
		e.emu.SetSendClaimMissing(true)
		c := e.client(t, e.options(false))
		err := c.Ensure(ctx)
		var ge *Error
		if !errors.As(err, &ge) || ge.Kind() != KindSendClaim {
			t.Fatalf("err %v", err)
		}
		sum, fix := Classify(err)
		for _, want := range []string{"Azure Event Hubs Data Sender", "Microsoft Graph Change Tracking", ChangeTrackingAppID, "az role assignment create", `--role "Azure Event Hubs Data Sender"`} {
			if !strings.Contains(fix, want) {
				t.Errorf("fix lacks %q: %s", want, fix)
			}
		}
		if !strings.Contains(sum, "Send claim") {
			t.Errorf("summary %q", sum)
		}
		if h := c.Health(); h.State != StateFailing || h.Kind != KindSendClaim || h.Fix != fix {
			t.Errorf("health %+v", h)
		}
	})
	t.Run("quota", func(t *testing.T) {
		e := newEnv(t, false)
		for i := 0; i < 10; i++ {
			o := e.options(false)
			o.Tokens = e.tokens(fmt.Sprintf("other-tool-%d", i))
			o.Vault = newMemVault()
			if err := e.client(t, o).Ensure(ctx); err != nil {
				t.Fatal(err)
			}
		}
		err := e.client(t, e.options(false)).Ensure(ctx)
		var ge *Error
		if !errors.As(err, &ge) || ge.Status != 403 || ge.Kind() != KindQuota {
			t.Fatalf("err %v", err)
		}
		if _, fix := Classify(err); !strings.Contains(fix, "at most 10") {
			t.Fatalf("fix %q", fix)
		}
	})
	t.Run("missing scope", func(t *testing.T) {
		e := newEnv(t, false)
		o := e.options(false)
		tk := e.tokens("emergency-desk")
		tk.scp = "User.Read"
		o.Tokens = tk
		err := e.client(t, o).Ensure(ctx)
		var ge *Error
		if !errors.As(err, &ge) || ge.Kind() != KindScope {
			t.Fatalf("err %v", err)
		}
		if _, fix := Classify(err); !strings.Contains(fix, "Chat.Read") {
			t.Fatalf("fix %q", fix)
		}
	})
	t.Run("classification", func(t *testing.T) {
		for _, c := range []struct {
			e    Error
			kind Kind
		}{
			{Error{Status: 400, Message: "lifecycleNotificationUrl is a required property for subscription creation on this resource when the expirationDateTime value is set to greater than 1 hour."}, KindLifecycleURL},
			{Error{Status: 403, Message: "The resource 'chats/getAllMessages' requires application permission (Chat.Read.All)"}, KindAppPermission},
			{Error{Status: 401, Code: "InvalidAuthenticationToken", Message: "Lifetime validation failed, the token is expired."}, KindAuth},
			{Error{Status: 409}, KindConflict},
			{Error{Status: 429}, KindThrottled},
			{Error{Status: 503}, KindUnavailable},
			{Error{Err: errors.New("connection reset")}, KindNetwork},
		} {
			if got := c.e.Kind(); got != c.kind {
				t.Errorf("%+v: kind %s, want %s", c.e, got, c.kind)
			}
			if c.e.Summary() == "" || c.e.Fix() == "" {
				t.Errorf("%s: empty summary or fix", c.kind)
			}
		}
	})
	t.Run("options", func(t *testing.T) {
		_, err := New(Options{BaseURL: "http://graph"})
		if err == nil || !strings.Contains(err.Error(), "Tokens") || !strings.Contains(err.Error(), "EventHubHost") {
			t.Fatalf("err %v", err)
		}
	})
}

func TestClientStateMismatch(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	c := e.client(t, e.options(false))
	if err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	e.emu.PostEmergencyCall(alex, "911", "Lobby")
	n := e.pub.last(t)
	n.ClientState = "forged"
	if _, err := c.Resolve(ctx, n); !errors.Is(err, ErrClientState) {
		t.Fatalf("forged notification: %v", err)
	}
	if e.emu.Requests("GET /v1.0/chats/") != 0 {
		t.Fatal("a forged notification caused a Graph request")
	}
	// Validation records are recognised, not errors.
	for _, it := range e.pub.items() {
		if it.IsValidation() {
			if _, err := c.Resolve(ctx, it); !errors.Is(err, ErrValidation) {
				t.Fatalf("validation record: %v", err)
			}
		}
	}
}

func TestRichNotificationsEndToEnd(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	c := e.client(t, e.options(true))
	if err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	s := e.live()[0]
	if !s.IncludeResourceData || s.EncryptionCertificateID == "" {
		t.Fatalf("subscription not rich: %+v", s)
	}
	raw, _ := e.vault.Get(CertName(desk.ID))
	if !strings.Contains(raw, "PRIVATE KEY") {
		t.Fatal("private key not in the vault")
	}
	_, msgID, _ := e.emu.PostEmergencyCall(alex, "911", "1 Main St, Springfield")
	n := e.pub.last(t)
	if n.EncryptedContent == nil {
		t.Fatal("no encryptedContent")
	}
	m, err := c.Resolve(ctx, n)
	if err != nil || m.ID != msgID || !foundCall([]msgraph.ChatMessage{*m}, msgID) {
		t.Fatalf("resolve: %v %+v", err, m)
	}
	if got := e.emu.Requests("GET /v1.0/chats/"); got != 0 {
		t.Fatalf("decrypted notification still fetched (%d requests)", got)
	}
	// Tampered ciphertext: signature check fails, message is fetched.
	_, msg2, _ := e.emu.PostEmergencyCall(alex, "933", "Lobby")
	n2 := e.pub.last(t)
	data, _ := base64.StdEncoding.DecodeString(n2.EncryptedContent.Data)
	data[5] ^= 1
	n2.EncryptedContent.Data = base64.StdEncoding.EncodeToString(data)
	if _, err := c.Decrypt(n2.EncryptedContent); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered decrypt: %v", err)
	}
	m2, err := c.Resolve(ctx, n2)
	if err != nil || m2.ID != msg2 || !strings.Contains(m2.Body.Content, "933") {
		t.Fatalf("tampered resolve: %v %+v", err, m2)
	}
	if got := e.emu.Requests("GET /v1.0/chats/"); got != 1 {
		t.Fatalf("fallback fetches %d, want 1", got)
	}
	// Unknown certificate id also falls back.
	time.Sleep(1100 * time.Millisecond) // stay inside the per-chat read limit
	_, msg3, _ := e.emu.PostEmergencyCall(alex, "911", "Roof")
	n3 := e.pub.last(t)
	n3.EncryptedContent.EncryptionCertificateID = "someone-else"
	if _, err := c.Decrypt(n3.EncryptedContent); !errors.Is(err, ErrUnknownCert) {
		t.Fatalf("unknown cert: %v", err)
	}
	if m3, err := c.Resolve(ctx, n3); err != nil || m3.ID != msg3 {
		t.Fatalf("unknown cert resolve: %v", err)
	}
	// A new client (restart) decrypts with the key from the vault.
	_, msg4, _ := e.emu.PostEmergencyCall(alex, "911", "Gate")
	c2 := e.client(t, e.options(true))
	if m4, err := c2.Decrypt(e.pub.last(t).EncryptedContent); err != nil || m4.ID != msg4 {
		t.Fatalf("after restart: %v", err)
	}
}

func TestFetchThrottleCacheAndRetries(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	o := e.options(false)
	tk := e.tokens("emergency-desk")
	o.Tokens = tk
	c := e.client(t, o)
	if err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	chat := e.emu.ChatWith(desk, sam)
	e.emu.PostMessage(ctx, chat, sam, "one", graphemu.MessageOptions{})
	n1 := e.pub.last(t)
	e.emu.PostMessage(ctx, chat, sam, "two", graphemu.MessageOptions{})
	n2 := e.pub.last(t)

	// Several notifications for one message cost one request.
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := c.Resolve(ctx, n1)
			if err == nil && m.Body.Content != "one" {
				err = fmt.Errorf("got %q", m.Body.Content)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := e.emu.Requests("GET /v1.0/chats/" + chat + "/messages/"); got != 1 {
		t.Fatalf("%d requests for one message", got)
	}
	// Second message in the same chat inside a second: 429 Retry-After: 1.
	start := time.Now()
	m, err := c.Resolve(ctx, n2)
	if err != nil || m.Body.Content != "two" {
		t.Fatalf("throttled fetch: %v", err)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Fatalf("Retry-After not honoured: answered after %v", d)
	}
	if got := e.emu.Requests("GET /v1.0/chats/" + chat + "/messages/"); got != 3 {
		t.Fatalf("%d requests, want 3 (one, 429, retry)", got)
	}

	// 401 → one forced refresh and a retry.
	time.Sleep(1100 * time.Millisecond)
	e.emu.PostMessage(ctx, chat, sam, "three", graphemu.MessageOptions{})
	n3 := e.pub.last(t)
	tk.mu.Lock()
	tk.expired = true
	tk.mu.Unlock()
	if m, err := c.Resolve(ctx, n3); err != nil || m.Body.Content != "three" || tk.forced != 1 {
		t.Fatalf("401 path: %v forced=%d", err, tk.forced)
	}
	// 503 with Retry-After and a dropped connection are retried.
	time.Sleep(1100 * time.Millisecond)
	e.emu.PostMessage(ctx, chat, sam, "four", graphemu.MessageOptions{})
	n4 := e.pub.last(t)
	e.emu.FailNext("/v1.0/chats/", 1, 503, time.Second)
	e.emu.DropNext("/v1.0/chats/", 1)
	if m, err := c.Resolve(ctx, n4); err != nil || m.Body.Content != "four" {
		t.Fatalf("503/drop path: %v", err)
	}
	// Bounded: a persistent 503 gives up with a classified error.
	o2 := o
	o2.MaxRetries = 2
	c2 := e.client(t, o2)
	e.emu.FailNext("/v1.0/chats/", 10, 503, 0)
	_, err = c2.FetchMessage(ctx, chat, "does-not-matter")
	var ge *Error
	if !errors.As(err, &ge) || ge.Kind() != KindUnavailable || e.emu.Requests("GET /v1.0/chats/"+chat+"/messages/does-not-matter") != 3 {
		t.Fatalf("bounded retries: %v", err)
	}
}

func TestRunRenewsOnTimer(t *testing.T) {
	e := newEnv(t, false)
	e.emu.SuppressLifecycle(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := e.client(t, e.options(false))
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor(t, func() bool { return c.SubscriptionID() != "" && e.clock.pending() > 0 })
	for i := 1; i <= 3; i++ {
		e.clock.Advance(49 * time.Hour)
		waitFor(t, func() bool { return e.emu.Requests("PATCH ") == i && e.clock.pending() > 0 })
	}
	if len(e.live()) != 1 {
		t.Fatal("subscription lapsed under Run")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSevenDaysNeverLapses(t *testing.T) {
	e := newEnv(t, false)
	e.emu.SuppressLifecycle(true) // lifecycle events may never reach a hub
	ctx := context.Background()
	o := e.options(true)
	o.CertValidity = 4 * 24 * time.Hour // force a certificate rotation mid-run
	o.CertRotateBefore = 24 * time.Hour
	if testing.Verbose() {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	c := e.client(t, o)
	next, err := c.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chat := e.emu.ChatWith(desk, sam)
	certs := map[string]bool{}
	end := start0.Add(7 * 24 * time.Hour)
	delivered, posted := 0, 0
	for step := 0; e.clock.Now().Before(end); step++ {
		e.clock.Advance(10 * time.Minute)
		if !e.clock.Now().Before(next) {
			if next, err = c.Tick(ctx); err != nil {
				t.Fatalf("%v: %v", e.clock.Now().Sub(start0), err)
			}
		}
		live := e.live()
		if len(live) != 1 || live[0].ID != c.SubscriptionID() {
			t.Fatalf("at %v: subscription lapsed (%d live)", e.clock.Now().Sub(start0), len(live))
		}
		certs[live[0].EncryptionCertificateID] = true
		if step%36 == 0 { // every 6 hours a message must reach the hub
			before := len(e.pub.items())
			if _, err := e.emu.PostMessage(ctx, chat, sam, fmt.Sprintf("ping %d", step), graphemu.MessageOptions{}); err != nil {
				t.Fatal(err)
			}
			posted++
			items := e.pub.items()
			if len(items) == before+1 {
				if m, err := c.Resolve(ctx, items[len(items)-1]); err == nil && m.Body.Content == fmt.Sprintf("ping %d", step) {
					delivered++
				}
			}
		}
	}
	if delivered != posted {
		t.Fatalf("%d of %d messages delivered and decrypted", delivered, posted)
	}
	if len(certs) < 2 {
		t.Fatalf("certificate never rotated: %v", certs)
	}
	if n := e.emu.Requests("GET /v1.0/chats/" + chat + "/messages/"); n != 0 {
		t.Fatalf("rich notifications needed %d fetches", n)
	}
	t.Logf("7 days: %d renewals, %d creations, %d certificates", e.emu.Requests("PATCH "), e.emu.Requests("POST /v1.0/subscriptions"), len(certs))
}
