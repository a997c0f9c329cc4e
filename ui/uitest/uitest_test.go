package uitest

import (
	"os"
	"testing"
	"time"

	"fyne.io/systray"
	"github.com/gen2brain/beeep"

	"emergencydesk/assets"
)

// TestHarnessAgainstRealSystray runs a real fyne.io/systray item and a real
// beeep notification against the harness. Run it on a private bus:
// dbus-run-session -- go test ./ui/uitest/
func TestHarnessAgainstRealSystray(t *testing.T) {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Skip("no session bus; run under dbus-run-session")
	}
	w, err := StartWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	n, err := StartNotifications()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()

	clicked := make(chan string, 4)
	ready := make(chan struct{})
	start, end := systray.RunWithExternalLoop(func() {
		systray.SetIcon(assets.TrayHealthy)
		systray.SetTitle("All links healthy")
		a := systray.AddMenuItem("Open Emergency Desk", "")
		q := systray.AddMenuItem("Quit", "")
		go func() {
			for {
				select {
				case <-a.ClickedCh:
					clicked <- "open"
				case <-q.ClickedCh:
					clicked <- "quit"
				}
			}
		}()
		close(ready)
	}, func() {})
	start()
	defer end()
	<-ready
	it, err := w.WaitItem(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	icons := map[string][]byte{"healthy": assets.TrayHealthy, "alerting": assets.TrayAlerting, "broken": assets.TrayBroken}
	if got, err := w.MatchIcon(it, icons); err != nil || got != "healthy" {
		t.Fatalf("icon = %q (%v), want healthy", got, err)
	}
	systray.SetIcon(assets.TrayAlerting)
	deadline := time.Now().Add(2 * time.Second)
	for {
		got, _ := w.MatchIcon(it, icons)
		if got == "alerting" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("icon = %q after SetIcon(alerting)", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if title, _ := w.Text(it, "Title"); title != "All links healthy" {
		t.Fatalf("title %q", title)
	}
	if err := w.Click(it, "Open Emergency"); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-clicked:
		if c != "open" {
			t.Fatalf("clicked %q", c)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("click did not reach the item")
	}
	if err := w.Click(it, "No such item"); err == nil {
		t.Fatal("clicking a missing item succeeded")
	}

	beeep.AppName = "Emergency Desk"
	if err := beeep.Notify("EMERGENCY CALL — Adele Vance", "Caller: Adele Vance", ""); err != nil {
		t.Fatal(err)
	}
	got, err := n.Wait(1, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].AppName != "Emergency Desk" || got[0].Summary != "EMERGENCY CALL — Adele Vance" {
		t.Fatalf("notification %+v", got[0])
	}
}
