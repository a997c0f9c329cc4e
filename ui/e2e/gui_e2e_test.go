package e2e

import (
	"strings"
	"testing"
	"time"

	"emergencydesk/core/alert"
	"emergencydesk/core/paths"
	"emergencydesk/core/store"
	"emergencydesk/ui/tray"
	"emergencydesk/ui/uitest"
)

// ackComment is typed into the alert window's comment field; finding it in
// the alert log proves the acknowledgement went through the real window.
const ackComment = "e2e: called back, guard on the way"

// TestDemoAlertEndToEnd runs `emergencydesk demo` under Xvfb: tray item on
// the test watcher, sign-in against the emulator, a simulated 911 call
// clicked in the tray menu over dbusmenu, the alerting icon, the alert
// window (found by title), the desktop notification, an acknowledgement
// typed into the alert window with the keyboard, and the alert log.
func TestDemoAlertEndToEnd(t *testing.T) {
	d := getDesktop(t)
	p := d.start(t, "demo", "--approve-after", "0s", "--no-sound")

	it, err := p.waitItem(20 * time.Second)
	if err != nil {
		p.fatalf(t, "tray item never registered with the StatusNotifierWatcher: %v", err)
	}
	if _, err := p.waitIcon(it, 45*time.Second, "healthy"); err != nil {
		p.fatalf(t, "chain never became healthy (tray tooltip %q): %v", d.tooltip(it), err)
	}
	if !d.keyring {
		t.Log("no Secret Service on the bus: the demo ran with in-memory secrets")
	} else if strings.Contains(p.log(), "OS keyring unavailable") {
		p.fatalf(t, "a Secret Service is on the bus but the demo fell back to in-memory secrets")
	}
	var main xwin
	if err := p.waitFor(10*time.Second, 50*time.Millisecond, func() (ok bool) {
		main, ok = findWindow("Emergency Desk")
		return ok && main.Title == "Emergency Desk"
	}); err != nil {
		p.fatalf(t, "main window not shown: %v (windows: %s)", err, titles())
	}
	// The screen is 1280x800 (the Makefile's Xvfb): the main window must fit.
	if main.W > 1280 || main.H > 800 {
		t.Errorf("main window is %dx%d: wider or taller than the 1280x800 screen", main.W, main.H)
	}
	// Closing the main window (the window manager's close button) hides it;
	// the app keeps running in the tray, and the tray opens it again.
	if err := uitest.CloseWindow(main.ID); err != nil {
		t.Fatal(err)
	}
	if err := p.waitFor(5*time.Second, 50*time.Millisecond, func() bool { return !viewable(main.ID) }); err != nil {
		p.fatalf(t, "closing the main window did not hide it: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if p.exited() {
		p.fatalf(t, "closing the main window quit the app")
	}
	if err := d.w.Click(it, tray.LabelOpen); err != nil {
		p.fatalf(t, "click %q: %v", tray.LabelOpen, err)
	}
	if err := p.waitFor(5*time.Second, 50*time.Millisecond, func() bool { _, ok := findWindow("Emergency Desk"); return ok }); err != nil {
		p.fatalf(t, "the tray did not reopen the main window: %v (windows: %s)", err, titles())
	}

	notes := len(d.n.Got())
	if err := d.w.Click(it, tray.LabelSim911); err != nil {
		p.fatalf(t, "click %q in the tray menu: %v", tray.LabelSim911, err)
	}
	var win xwin
	if err := p.waitFor(20*time.Second, 20*time.Millisecond, func() (ok bool) {
		win, ok = findWindow("EMERGENCY CALL")
		return ok
	}); err != nil {
		p.fatalf(t, "no alert window titled EMERGENCY CALL: %v (windows: %s)", err, titles())
	}
	// Above every other window, on every workspace (no window manager runs
	// under Xvfb, so the app records the EWMH state on the window itself).
	var st string
	if err := p.waitFor(3*time.Second, 50*time.Millisecond, func() bool {
		st = xprop(win.ID, "_NET_WM_STATE")
		return strings.Contains(st, "_NET_WM_STATE_ABOVE") && strings.Contains(st, "_NET_WM_STATE_STICKY")
	}); err != nil {
		t.Errorf("alert window is not pinned above others on all workspaces: _NET_WM_STATE = %q", st)
	}
	if _, err := p.waitIcon(it, 5*time.Second, "alerting", "alerting-dim"); err != nil {
		p.fatalf(t, "tray not alerting: %v", err)
	}
	if tip := d.tooltip(it); !strings.Contains(tip, "NOT acknowledged") {
		t.Errorf("tray tooltip %q does not say an alert is waiting", tip)
	}
	if err := p.waitFor(10*time.Second, 20*time.Millisecond, func() bool {
		for _, n := range d.n.Got()[notes:] {
			if n.AppName == "Emergency Desk" && strings.Contains(n.Summary, "EMERGENCY CALL") {
				return true
			}
		}
		return false
	}); err != nil {
		p.fatalf(t, "no notification from app \"Emergency Desk\" about the call: %v (got %+v)", err, d.n.Got()[notes:])
	}

	// Acknowledge through the window with the keyboard.
	if err := ackTopCard(win, ackComment); err != nil {
		p.fatalf(t, "acknowledge in the alert window: %v", err)
	}
	if err := p.waitFor(10*time.Second, 20*time.Millisecond, func() bool {
		_, shown := findWindow("EMERGENCY CALL")
		return !shown
	}); err != nil {
		p.fatalf(t, "alert window still shown after acknowledging with the keyboard: %v (windows: %s)", err, titles())
	}
	if _, err := p.waitIcon(it, 5*time.Second, "healthy"); err != nil {
		p.fatalf(t, "tray did not return to healthy after the acknowledgement: %v", err)
	}

	s, err := store.OpenReadOnly(paths.Under(p.home).AlertDB())
	if err != nil {
		p.fatalf(t, "open the alert log read-only: %v", err)
	}
	defer s.Close()
	c, cancel := ctx(10 * time.Second)
	defer cancel()
	all, err := s.List(c, store.Filter{Which: store.All})
	if err != nil {
		p.fatalf(t, "read the alert log: %v", err)
	}
	var call *alert.Alert
	for i := range all {
		if !all[i].IsTest {
			call = &all[i]
		}
	}
	switch {
	case len(all) != 1 || call == nil:
		p.fatalf(t, "alert log holds %d alert(s), want exactly the one 911 call: %+v", len(all), all)
	case call.Acknowledged == nil:
		p.fatalf(t, "alert log: call %s is not acknowledged", call.ID)
	case call.Acknowledged.Comment != ackComment:
		t.Errorf("acknowledgement comment %q, want %q (typed in the window)", call.Acknowledged.Comment, ackComment)
	case call.Acknowledged.By == "" || call.Acknowledged.At.IsZero():
		t.Errorf("acknowledgement lacks who/when: %+v", *call.Acknowledged)
	}
}
