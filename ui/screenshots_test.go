package ui

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"emergencydesk/core/engine"
	"emergencydesk/core/health"
	"emergencydesk/ui/internal/fakedesk"
)

// TestScreenshots renders the screens with Fyne's test driver when
// EMERGENCYDESK_RENDER_SHOTS=dir is set, for a quick look without a
// display. The README's docs/screenshots come from the real app under
// Xvfb instead (ui/e2e TestScreenshots, EMERGENCYDESK_SCREENSHOTS).
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("EMERGENCYDESK_RENDER_SHOTS")
	if dir == "" {
		t.Skip("set EMERGENCYDESK_RENDER_SHOTS=dir to render screenshots with the test driver")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	user := engine.MonitoringUser{ID: "u1", DisplayName: "Security Desk", UPN: "desk@contoso.com",
		Token:        health.Component{Level: health.OK, State: "healthy", Details: map[string]string{"expiresAt": "2025-03-04 15:05", "lastRefresh": "2025-03-04 14:05"}},
		Subscription: health.Component{Level: health.OK, State: "active", Details: map[string]string{"expiresAt": "2025-03-07 09:00"}}}
	r := newRig(t, func(d *fakedesk.Desk) {
		d.Cfg.OAuth.ClientID = "11111111-2222-3333-4444-555555555555"
		d.Cfg.OAuth.TenantID = "contoso.onmicrosoft.com"
		d.UserList = []engine.MonitoringUser{user}
		d.Report = engine.Report{Started: time.Now(), Duration: 1200 * time.Millisecond, Checks: []engine.Check{
			{Title: "Settings", Status: "pass", Detail: "all fields valid"},
			{Title: "Monitoring user token", Status: "pass", Detail: "desk@contoso.com: valid for 55 min"},
			{Title: "Event Hub", Status: "fail", Detail: "SASL authentication failed", Fix: "paste the hub's own connection string (with EntityPath)"}}}
	})
	shot := func(name string, w fyne.Window, size fyne.Size) {
		w.Resize(size)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := png.Encode(f, w.Canvas().Capture()); err != nil {
			t.Fatal(err)
		}
	}
	big := fyne.NewSize(1000, 700)
	r.u.ShowPage(PageSettings)
	shot("settings.png", r.u.main, big)
	r.u.ShowPage(PageTeams)
	shot("teams.png", r.u.main, big)
	r.u.dc.open("")
	r.u.dc.begin()
	r.u.Apply(engine.DeviceCodeNeeded{Prompt: engine.DeviceCode{UserCode: "ABCD-EFGH", VerificationURL: "https://microsoft.com/devicelogin", ExpiresAt: r.clk.t.Add(15 * time.Minute)}})
	shot("device-code.png", r.u.main, big)
	r.u.dc.hide()
	r.u.Apply(r.desk.Raise(testCall("t1")))
	r.u.Apply(r.desk.Raise(emergency("m1")))
	shot("alert-window.png", r.u.aw.win, fyne.NewSize(760, 900))
	r.u.ShowPage(PageAlerts)
	r.u.hist.list.Select(0)
	shot("alerts.png", r.u.main, big)
	r.u.ShowPage(PageDiagnostics)
	r.u.diag.run()
	shot("diagnostics.png", r.u.main, big)
}
