package ui

import (
	"errors"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"emergencydesk/core/alert"
	"emergencydesk/core/config"
	"emergencydesk/core/engine"
	"emergencydesk/core/health"
	"emergencydesk/core/secrets"
	"emergencydesk/ui/internal/fakedesk"
)

func TestSettingsTabsAndInlineValidation(t *testing.T) {
	r := newRig(t, nil)
	p := r.u.cfg
	var tabs []string
	for _, it := range p.tabs.Items {
		tabs = append(tabs, it.Text)
	}
	if strings.Join(tabs, "|") != "OAuth Settings|Subscription Settings|Event Hub|Permissions|Advanced" {
		t.Fatalf("tabs %v", tabs)
	}
	if !strings.Contains(p.Message("oauth.clientId"), "Client ID is required") {
		t.Fatalf("empty client id message %q", p.Message("oauth.clientId"))
	}
	test.Type(p.byKey["oauth.clientId"].entry, "not-a-guid")
	if !strings.Contains(p.Message("oauth.clientId"), `"not-a-guid" is not a GUID`) {
		t.Fatalf("bad client id message %q", p.Message("oauth.clientId"))
	}
	p.byKey["oauth.clientId"].entry.SetText("11111111-2222-3333-4444-555555555555")
	if m := p.Message("oauth.clientId"); m != "" || p.byKey["oauth.clientId"].msg.Visible() {
		t.Fatalf("valid client id still shows %q", m)
	}
	p.byKey["eventHub.partitionCount"].entry.SetText("two")
	if !strings.Contains(p.Message("eventHub.partitionCount"), "must be a whole number") {
		t.Fatalf("partition message %q", p.Message("eventHub.partitionCount"))
	}
	p.byKey["subscription.timeoutMinutes"].entry.SetText("5000")
	if !strings.Contains(p.Message("subscription.timeoutMinutes"), "between 45 and 4320") {
		t.Fatalf("timeout message %q", p.Message("subscription.timeoutMinutes"))
	}
	p.byKey["permissions.offline_access"].check.SetChecked(false)
	if !strings.Contains(p.Message("permissions.offline_access"), "no refresh token") {
		t.Fatalf("scope warning %q", p.Message("permissions.offline_access"))
	}
	// Save with errors does not reach the engine.
	test.Tap(p.save)
	if len(r.desk.Saved) != 0 || !strings.Contains(p.status.Text, "Not saved") {
		t.Fatalf("saved despite errors (status %q)", p.status.Text)
	}
	if p.groupID.Text != r.desk.GroupID() {
		t.Fatalf("group id shows %q", p.groupID.Text)
	}
	// Defaults are shown.
	if p.byKey["eventHub.name"].entry.Text != "teams-events" || p.byKey["oauth.refreshTokenExpirationMinutes"].entry.Text != "2196" {
		t.Fatal("defaults not filled in")
	}
}

func TestSecretsMaskedRevealAndSave(t *testing.T) {
	r := newRig(t, func(d *fakedesk.Desk) {
		d.Secrets[secrets.ClientSecret] = true
		d.Cfg.OAuth.ClientID = "11111111-2222-3333-4444-555555555555"
		d.Cfg.OAuth.TenantID = "contoso.onmicrosoft.com"
	})
	p := r.u.cfg
	cs, conn := p.secrets[secrets.ClientSecret], p.secrets[secrets.ConnectionString]
	if !cs.entry.Password || !conn.entry.Password {
		t.Fatal("secrets not masked")
	}
	if cs.entry.Text != "" || cs.entry.PlaceHolder != StoredPlaceholder {
		t.Fatalf("stored secret shows %q / placeholder %q", cs.entry.Text, cs.entry.PlaceHolder)
	}
	if !strings.Contains(p.Message("eventHub.connectionString"), "no connection string stored") {
		t.Fatalf("missing connection string not flagged: %q", p.Message("eventHub.connectionString"))
	}
	test.Type(cs.entry, "n3w~secret")
	test.Tap(cs.reveal)
	if cs.entry.Password {
		t.Fatal("reveal did not unmask")
	}
	test.Tap(cs.reveal)
	if !cs.entry.Password {
		t.Fatal("second tap did not mask again")
	}
	conn.entry.SetText("Endpoint=sb://wrong")
	if p.Message("eventHub.connectionString") == "" {
		t.Fatal("bad connection string not flagged")
	}
	good := "Endpoint=sb://contoso-ns.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=abc=;EntityPath=teams-events"
	conn.entry.SetText(good)
	if m := p.Message("eventHub.connectionString"); m != "" {
		t.Fatalf("good connection string flagged: %q", m)
	}
	test.Tap(p.save)
	if len(r.desk.Saved) != 1 {
		t.Fatalf("save calls %d (status %q)", len(r.desk.Saved), p.status.Text)
	}
	got := r.desk.SavedSecs[0]
	if got[secrets.ClientSecret] != "n3w~secret" || got[secrets.ConnectionString] != good {
		t.Fatalf("secrets passed %v", got)
	}
	if p.status.Text != "Saved and applied." || cs.entry.Text != "" || conn.entry.PlaceHolder != StoredPlaceholder {
		t.Fatalf("after save: status %q, secret %q, placeholder %q", p.status.Text, cs.entry.Text, conn.entry.PlaceHolder)
	}
	// Problems the engine reports land under their fields.
	r.desk.SaveResult = config.Problems{{Field: "eventHub.name", Severity: config.Error, Message: "hub teams-events not found in the namespace"}}
	test.Tap(p.save)
	if p.Message("eventHub.name") != "hub teams-events not found in the namespace" {
		t.Fatalf("engine problem shown as %q", p.Message("eventHub.name"))
	}
}

func TestDeviceCodeDialog(t *testing.T) {
	r := newRig(t, nil)
	d := r.u.dc
	test.Tap(findTeamsButton(t, r, "Add Monitoring User"))
	test.Tap(d.start)
	if r.desk.Added != 1 {
		t.Fatalf("AddMonitoringUser calls %d", r.desk.Added)
	}
	r.u.Apply(engine.DeviceCodeNeeded{Prompt: engine.DeviceCode{UserCode: "ABCD-EFGH",
		VerificationURL: "https://microsoft.com/devicelogin", ExpiresAt: r.clk.t.Add(15 * time.Minute)}})
	if d.code.Text != "ABCD-EFGH" || d.code.TextSize < 30 || !d.codeBox.Visible() {
		t.Fatalf("code %q size %v", d.code.Text, d.code.TextSize)
	}
	if d.countdown.Text != "The code expires in 15:00" {
		t.Fatalf("countdown %q", d.countdown.Text)
	}
	r.clk.t = r.clk.t.Add(5*time.Minute + time.Second)
	d.tick()
	if d.countdown.Text != "The code expires in 9:59" {
		t.Fatalf("countdown after 5 min %q", d.countdown.Text)
	}
	test.Tap(d.copyBtn)
	if r.u.app.Clipboard().Content() != "ABCD-EFGH" {
		t.Fatal("copy did not copy the code")
	}
	test.Tap(d.openBtn)
	if len(r.urls) != 1 || r.urls[0] != "https://microsoft.com/devicelogin" {
		t.Fatalf("opened %v", r.urls)
	}
	r.clk.t = r.clk.t.Add(10 * time.Minute)
	d.tick()
	if !strings.Contains(d.countdown.Text, "expired") {
		t.Fatalf("expired countdown %q", d.countdown.Text)
	}
	r.u.Apply(engine.SignInFinished{User: engine.MonitoringUser{DisplayName: "Security Desk", UPN: "desk@contoso.com"}})
	if d.intro.Text != "Authentication successful" || !strings.Contains(d.result.Text, "Security Desk (desk@contoso.com)") {
		t.Fatalf("success shows %q / %q", d.intro.Text, d.result.Text)
	}

	// Failure: the engine's words and fix.
	d.open("user-1")
	test.Tap(d.start)
	if len(r.desk.Reauthed) != 1 || r.desk.Reauthed[0] != "user-1" {
		t.Fatalf("reauth calls %v", r.desk.Reauthed)
	}
	r.u.Apply(engine.SignInFinished{Err: errors.New("AADSTS65001: consent required"), Fix: "ask an admin to grant consent"})
	if d.intro.Text != "Authentication failed" || !strings.Contains(d.result.Text, "AADSTS65001") || !strings.Contains(d.result.Text, "ask an admin to grant consent") {
		t.Fatalf("failure shows %q / %q", d.intro.Text, d.result.Text)
	}

	// Cancel while waiting tells the engine.
	d.open("")
	test.Tap(d.start)
	test.Tap(d.cancel)
	if r.desk.Cancelled != 1 {
		t.Fatalf("cancel calls %d", r.desk.Cancelled)
	}
}

func findTeamsButton(t *testing.T, r *rig, text string) *widget.Button {
	t.Helper()
	b, ok := find(r.u.teams.content, func(b *widget.Button) bool { return b.Text == text })
	if !ok {
		t.Fatalf("no %q button on the Teams page", text)
	}
	return b
}

func TestTeamsPageUsersAndRemove(t *testing.T) {
	u1 := engine.MonitoringUser{ID: "u1", DisplayName: "Security Desk", UPN: "desk@contoso.com",
		Token: health.Component{Level: health.Degraded, State: "expiring", Summary: "refresh token expires in 2 days",
			Fix: "Re-authenticate this user", Details: map[string]string{"expiresAt": "2025-03-06 10:00", "lastError": "none"}},
		Subscription: health.Component{Level: health.OK, State: "active", Details: map[string]string{"expiresAt": "2025-03-07 09:00"}}}
	r := newRig(t, func(d *fakedesk.Desk) { d.UserList = []engine.MonitoringUser{u1} })
	text := allText(r.u.teams.content)
	for _, want := range []string{"Security Desk", "desk@contoso.com", "Token: expiring", "refresh token expires in 2 days",
		"expires at: 2025-03-06 10:00", "last error: none", "Subscription: active", "Fix: Re-authenticate this user"} {
		if !strings.Contains(text, want) {
			t.Errorf("Teams page lacks %q", want)
		}
	}
	test.Tap(findTeamsButton(t, r, "Remove"))
	testTap(overlayButton(t, r.u.main, "Yes"))
	if len(r.desk.Removed) != 1 || r.desk.Removed[0] != "u1" {
		t.Fatalf("removed %v", r.desk.Removed)
	}
	if !strings.Contains(menuItem(r.host.menu, "Monitoring users").ChildMenu.Items[0].Label, "token: expiring") {
		t.Fatal("tray menu lacks the user's token health")
	}
}

// allText joins every label, text and banner under o.
func allText(o fyne.CanvasObject) string {
	var b strings.Builder
	for _, x := range test.LaidOutObjects(o) {
		switch v := x.(type) {
		case *widget.Label:
			b.WriteString(v.Text + "\n")
		case *canvas.Text:
			b.WriteString(v.Text + "\n")
		case *widget.Card:
			b.WriteString(v.Title + "\n")
		}
	}
	return b.String()
}

func TestAlertWindowAcknowledgeFlow(t *testing.T) {
	r := newRig(t, nil)
	a := emergency("m1")
	r.u.Apply(r.desk.Raise(a))
	w := r.u.aw
	if !strings.Contains(w.win.Title(), "EMERGENCY CALL") || !strings.Contains(w.win.Title(), "Adele Vance") {
		t.Fatalf("title %q", w.win.Title())
	}
	if !r.sound.alarm || r.sound.starts != 1 || len(r.note.titles) != 1 || !strings.Contains(r.note.titles[0], "EMERGENCY CALL") {
		t.Fatalf("alarm %v starts %d notifications %v", r.sound.alarm, r.sound.starts, r.note.titles)
	}
	c := w.cards[0]
	if !strings.Contains(c.when.Text, "(2 min ago)") {
		t.Fatalf("when %q", c.when.Text)
	}
	r.clk.t = r.clk.t.Add(time.Hour)
	w.tick()
	if !strings.Contains(c.when.Text, "1 h 2 min ago") {
		t.Fatalf("ticking when %q", c.when.Text)
	}
	txt := allText(c.view)
	for _, want := range []string{"EMERGENCY CALL — 911", "Caller: Adele Vance", "Building 4, 2nd floor, room 212", "desk@contoso.com", "<b>not bold</b>"} {
		if !strings.Contains(txt, want) {
			t.Errorf("alert card lacks %q", want)
		}
	}
	open, _ := find(c.view, func(b *widget.Button) bool { return b.Text == "Open chat in Teams" })
	test.Tap(open)
	if len(r.urls) != 1 || r.urls[0] != a.WebURL {
		t.Fatalf("opened %v", r.urls)
	}
	// A second alert stacks; a test call looks different and only chimes.
	r.u.Apply(r.desk.Raise(testCall("t1")))
	if w.count() != 2 || !strings.Contains(w.win.Title(), "EMERGENCY CALL — Adele Vance (+1 more waiting)") {
		t.Fatalf("stacked title %q", w.win.Title())
	}
	if r.sound.chimes != 1 || !strings.Contains(allText(w.cards[0].view), "TEST CALL — 933") {
		t.Fatal("test call not chimed or not labelled")
	}
	test.Type(c.comment, "called back, ambulance on the way")
	test.Tap(c.ack)
	if len(r.desk.Acks) != 1 || r.desk.Acks[0] != (fakedesk.Ack{ID: "m1", By: "guard1", Comment: "called back, ambulance on the way"}) {
		t.Fatalf("acks %v", r.desk.Acks)
	}
	if r.sound.alarm {
		t.Fatal("alarm still sounding with only a test call left")
	}
	if !strings.Contains(w.win.Title(), "TEST CALL — Megan Bowen") {
		t.Fatalf("title after ack %q", w.win.Title())
	}
	test.Tap(w.cards[0].ack)
	if w.count() != 0 || r.u.alerting() {
		t.Fatal("alerts still waiting after acknowledging both")
	}
}

func TestAlertWindowMissedAndFailedAck(t *testing.T) {
	r := newRig(t, nil)
	a := emergency("m9")
	a.Source = alert.SourceMissedOffline
	r.u.Apply(engine.AlertRaised{Alert: a}) // not in the desk's log: Acknowledge fails
	c := r.u.aw.cards[0]
	if !strings.Contains(allText(c.view), "MISSED WHILE OFFLINE") {
		t.Fatal("missed-offline alert not labelled")
	}
	test.Tap(c.ack)
	if !c.err.Visible() || !strings.Contains(c.err.Text, "Not acknowledged") || r.u.aw.count() != 1 || !r.sound.alarm {
		t.Fatalf("failed ack: err %q, waiting %d, alarm %v", c.err.Text, r.u.aw.count(), r.sound.alarm)
	}
	r.u.Apply(engine.AlertAcknowledged{ID: "m9", Ack: alert.Ack{By: "other desk"}})
	if r.u.aw.count() != 0 || r.sound.alarm {
		t.Fatal("acknowledgement from elsewhere did not clear the alert")
	}
}

func TestAlertsHistoryAndDiagnostics(t *testing.T) {
	r := newRig(t, func(d *fakedesk.Desk) {
		old := emergency("old")
		old.Acknowledged = &alert.Ack{By: "guard2", Comment: "false alarm"}
		d.Log = []alert.Alert{testCall("t1"), old}
		d.Report = engine.Report{Checks: []engine.Check{
			{ID: "token", Title: "Monitoring user token", Status: "pass", Detail: "valid for 55 min"},
			{ID: "hub", Title: "Event Hub", Status: "fail", Detail: "SASL authentication failed", Fix: "paste the hub's connection string"}}}
	})
	h := r.u.hist
	if len(h.items) != 2 || h.items[0].ID != "t1" {
		t.Fatalf("history %v", h.items)
	}
	h.filter.SetSelectedIndex(1)
	if len(h.items) != 1 || h.items[0].ID != "t1" {
		t.Fatalf("unacknowledged filter: %v", h.items)
	}
	h.filter.SetSelectedIndex(2)
	if len(h.items) != 1 || !h.items[0].IsTest {
		t.Fatalf("test filter: %v", h.items)
	}
	h.filter.SetSelectedIndex(0)
	h.list.Select(1)
	for _, want := range []string{"Acknowledged by guard2", "false alarm", "<b>not bold</b>", `"contentType": "html"`} {
		if !strings.Contains(h.detail.Text, want) {
			t.Errorf("details lack %q:\n%s", want, h.detail.Text)
		}
	}
	menuItem(r.host.menu, "Test integration").Action()
	if r.desk.Diagnosed != 1 || !strings.Contains(allText(r.u.diag.content), "SASL authentication failed") ||
		!strings.Contains(allText(r.u.diag.content), "Fix: paste the hub's connection string") {
		t.Fatal("diagnostics not shown")
	}
	test.Tap(r.u.diag.copyBtn)
	if !strings.Contains(r.u.app.Clipboard().Content(), `"status": "fail"`) {
		t.Fatalf("clipboard %q", r.u.app.Clipboard().Content())
	}
}

func TestMainWindowHealthLine(t *testing.T) {
	r := newRig(t, nil)
	for _, tc := range []struct {
		o    health.Overall
		want string
		imp  widget.Importance
	}{
		{health.Overall{Level: health.Unconfigured, Reason: "Not configured: open Settings"}, "Not configured", widget.LowImportance},
		{health.Overall{Level: health.OK, Reason: "All links healthy"}, "Alert chain healthy", widget.SuccessImportance},
		{health.Overall{Level: health.Degraded, Reason: "Sign-in a@b: refresh token expires soon"}, "Needs attention — Sign-in a@b", widget.WarningImportance},
		{health.Overall{Level: health.Broken, Reason: "Event Hub: authentication failed\nretrying"}, "ALERTS CANNOT ARRIVE — Event Hub: authentication failed retrying", widget.DangerImportance},
	} {
		r.u.Apply(engine.HealthChanged{Health: tc.o})
		if !strings.Contains(r.u.status.Text, tc.want) || r.u.status.Importance != tc.imp {
			t.Errorf("%v: status %q (importance %v), want %q (%v)", tc.o.Level, r.u.status.Text, r.u.status.Importance, tc.want, tc.imp)
		}
	}
}
