package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"emergencydesk/ui/tray"
	"emergencydesk/ui/uitest"
)

// TestScreenshots captures the README screenshots from the real app under
// Xvfb when EMERGENCYDESK_SCREENSHOTS=dir is set (e.g. docs/screenshots):
//
//	EMERGENCYDESK_SCREENSHOTS=$PWD/docs/screenshots make test PKGS=./ui/e2e
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("EMERGENCYDESK_SCREENSHOTS")
	if dir == "" {
		t.Skip("set EMERGENCYDESK_SCREENSHOTS=dir to capture screenshots of the real app")
	}
	d := getDesktop(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mainWin := func(p *deskProc) xwin {
		t.Helper()
		var w xwin
		if err := p.waitFor(10*time.Second, 50*time.Millisecond, func() (ok bool) {
			w, ok = findWindow("Emergency Desk")
			return ok && w.Title == "Emergency Desk"
		}); err != nil {
			p.fatalf(t, "main window: %v (%s)", err, titles())
		}
		return w
	}
	shot := func(p *deskProc, w xwin, name string) {
		t.Helper()
		time.Sleep(700 * time.Millisecond) // let the frame settle
		if err := crop(w, filepath.Join(dir, name)); err != nil {
			p.fatalf(t, "%v", err)
		}
	}

	// The device-code dialog, before the demo approves the sign-in.
	p := d.start(t, "demo", "--approve-after", "10m", "--no-sound")
	if err := p.waitFor(30*time.Second, 50*time.Millisecond, func() bool { return strings.Contains(p.log(), "Device code ") }); err != nil {
		p.fatalf(t, "no device code: %v", err)
	}
	shot(p, mainWin(p), "device-code.png")
	p.stop()

	p = d.start(t, "demo", "--approve-after", "0s", "--no-sound")
	it, err := p.waitItem(20 * time.Second)
	if err != nil {
		p.fatalf(t, "tray: %v", err)
	}
	if _, err := p.waitIcon(it, 45*time.Second, "healthy"); err != nil {
		p.fatalf(t, "%v (tooltip %q)", err, d.tooltip(it))
	}
	mw := mainWin(p)
	// Close the "Authentication successful" dialog: its Close button is
	// the only focusable widget in the modal.
	if err := focus(mw); err != nil {
		t.Fatal(err)
	}
	if err := xdo("key", "Tab", "space"); err != nil {
		t.Fatal(err)
	}

	click := func(label string) {
		t.Helper()
		if err := d.w.Click(it, label); err != nil {
			p.fatalf(t, "tray %q: %v", label, err)
		}
	}
	click(tray.LabelSim933)
	time.Sleep(1500 * time.Millisecond)
	click(tray.LabelSim911)
	var aw xwin
	if err := p.waitFor(20*time.Second, 50*time.Millisecond, func() (ok bool) {
		aw, ok = findWindow("EMERGENCY CALL", "+1 more")
		return ok
	}); err != nil {
		p.fatalf(t, "alert window with two calls: %v (%s)", err, titles())
	}
	xdo("mousemove", "1270", "790") // no hover highlight in the shot
	shot(p, aw, "alert-window.png")
	for range 2 {
		w, ok := findWindow("CALL")
		if !ok {
			break
		}
		if err := ackTopCard(w, "Called back: guard on the way"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(800 * time.Millisecond)
	}
	if _, ok := findWindow("CALL"); ok {
		p.fatalf(t, "alerts still waiting after acknowledging both (%s)", titles())
	}

	click(tray.LabelOpen)
	mw = mainWin(p)
	time.Sleep(500 * time.Millisecond)
	// Select the newest alert: the first row of the list, left of the split.
	xdo("mousemove", "--window", mw.ID, "300", "102", "click", "1") // below the health line and the filter
	xdo("mousemove", "1270", "790")
	shot(p, mw, "alerts.png")

	click(tray.LabelSettings)
	shot(p, mainWin(p), "settings.png")

	menu, err := d.w.Menu(it)
	if err != nil {
		t.Fatal(err)
	}
	users, _ := uitest.FindLabel(menu, tray.LabelUsers)
	if len(users.Children) == 0 {
		t.Fatalf("no monitoring user in the tray menu: %+v", menu)
	}
	click(users.Children[0].Label)
	shot(p, mainWin(p), "teams.png")

	click(tray.LabelTest)
	time.Sleep(3 * time.Second)
	shot(p, mainWin(p), "diagnostics.png")
}
