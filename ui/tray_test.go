package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"emergencydesk/core/health"
	"emergencydesk/ui/tray"
)

func TestTrayFollowsHealthAndAlerts(t *testing.T) {
	r := newRig(t, nil)
	if r.u.TrayState() != tray.Unconfigured || !pngEqual(r.host.icon, tray.Icon(tray.Unconfigured)) {
		t.Fatalf("fresh desk: state %v, want unconfigured (grey)", r.u.TrayState())
	}
	broken := health.Overall{Level: health.Broken, Reason: "Event Hub: connection refused\nretrying"}
	r.u.Apply(engineHealth(broken))
	if !pngEqual(r.host.icon, tray.Icon(tray.Broken)) {
		t.Fatalf("broken health: icon is not the red one")
	}
	if r.host.tip != "Event Hub: connection refused retrying" {
		t.Fatalf("tooltip %q, want the reason on one line", r.host.tip)
	}
	r.u.Apply(r.desk.Raise(emergency("m1")))
	if r.u.TrayState() != tray.Alerting || !pngEqual(r.host.icon, tray.Icon(tray.Alerting)) {
		t.Fatalf("unacknowledged alert: state %v, want alerting", r.u.TrayState())
	}
	r.u.tray.Toggle()
	if r.u.TrayState() != tray.AlertingDim || !pngEqual(r.host.icon, tray.Icon(tray.AlertingDim)) {
		t.Fatalf("flash phase: state %v, want alerting-dim", r.u.TrayState())
	}
	if !strings.Contains(r.host.tip, "1 alert(s) NOT acknowledged") {
		t.Fatalf("tooltip %q does not say an alert waits", r.host.tip)
	}
	r.u.Apply(engineAck("m1"))
	if r.u.TrayState() != tray.Broken {
		t.Fatalf("after acknowledgement: state %v, want back to broken", r.u.TrayState())
	}
}

func menuItem(m *fyne.Menu, label string) *fyne.MenuItem {
	for _, it := range m.Items {
		if it.Label == label {
			return it
		}
	}
	return nil
}

func TestMenuQuitAsksFirst(t *testing.T) {
	r := newRig(t, nil)
	m := r.host.menu
	last := m.Items[len(m.Items)-1]
	if last.Label != tray.LabelQuit || !last.IsQuit {
		t.Fatalf("last menu item %q, want our own Quit (so fyne adds no unconfirmed one)", last.Label)
	}
	last.Action()
	if r.quits != 0 {
		t.Fatal("Quit quit without asking")
	}
	top := r.u.main.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("Quit showed no confirmation")
	}
	if _, ok := find(top, func(l *widget.Label) bool { return strings.Contains(l.Text, "Quitting stops alerts") }); !ok {
		t.Fatal("the confirmation does not say quitting stops alerts")
	}
	testTap(overlayButton(t, r.u.main, "No"))
	if r.quits != 0 {
		t.Fatal("quit after No")
	}
	last.Action()
	testTap(overlayButton(t, r.u.main, "Yes"))
	if r.quits != 1 {
		t.Fatalf("quits = %d after Yes, want 1", r.quits)
	}
}

func TestMenuDemoItemsAndAckAll(t *testing.T) {
	r := newRig(t, nil)
	if menuItem(r.host.menu, tray.LabelSim911) != nil {
		t.Fatal("simulate item shown outside demo mode")
	}
	r2 := newRig(t, func(d *fakedeskDesk) { d.Demo = true })
	menuItem(r2.host.menu, tray.LabelSim911).Action()
	menuItem(r2.host.menu, tray.LabelSim933).Action()
	if strings.Join(r2.desk.Simulated, ",") != "911,933" {
		t.Fatalf("simulated %v", r2.desk.Simulated)
	}
	if it := menuItem(r.host.menu, tray.AckAllLabel(0)); it == nil || !it.Disabled {
		t.Fatal("acknowledge-all should be present and disabled with nothing waiting")
	}
	r.u.Apply(r.desk.Raise(emergency("a1")))
	r.u.Apply(r.desk.Raise(testCall("a2")))
	it := menuItem(r.host.menu, tray.AckAllLabel(2))
	if it == nil || it.Disabled {
		t.Fatal("acknowledge-all missing with 2 waiting")
	}
	latest := menuItem(r.host.menu, tray.LabelLatest)
	if len(latest.ChildMenu.Items) != 2 || !strings.Contains(latest.ChildMenu.Items[0].Label, "Test 933") {
		t.Fatalf("latest alerts submenu: %v", latest.ChildMenu.Items)
	}
	it.Action()
	testTap(overlayButton(t, r.u.main, "Acknowledge all"))
	if len(r.desk.Acks) != 2 || r.u.aw.count() != 0 {
		t.Fatalf("acks %v, waiting %d", r.desk.Acks, r.u.aw.count())
	}
}
