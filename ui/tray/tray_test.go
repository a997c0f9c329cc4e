package tray

import (
	"bytes"
	"testing"

	"fyne.io/fyne/v2"

	"emergencydesk/assets"
	"emergencydesk/core/health"
)

func TestStateTable(t *testing.T) {
	cases := []struct {
		level    health.Level
		alerting bool
		want     State
		png      []byte
	}{
		{health.Unconfigured, false, Unconfigured, assets.TrayUnconfigured},
		{health.OK, false, Healthy, assets.TrayHealthy},
		{health.Degraded, false, Degraded, assets.TrayDegraded},
		{health.Broken, false, Broken, assets.TrayBroken},
		{health.OK, true, Alerting, assets.TrayAlerting},
		{health.Broken, true, Alerting, assets.TrayAlerting},
		{health.Unconfigured, true, Alerting, assets.TrayAlerting},
	}
	for _, c := range cases {
		s := StateFor(c.level, c.alerting)
		if s != c.want {
			t.Errorf("StateFor(%v, %v) = %v, want %v", c.level, c.alerting, s, c.want)
		}
		if !bytes.Equal(Icon(s).Content(), c.png) {
			t.Errorf("Icon(%v) is not the right PNG", s)
		}
	}
	if !bytes.Equal(Icon(AlertingDim).Content(), assets.TrayAlertingDim) {
		t.Error("AlertingDim icon wrong")
	}
}

type host struct{ icons []string }

func (h *host) SetSystemTrayMenu(*fyne.Menu)      {}
func (h *host) SetSystemTrayIcon(r fyne.Resource) { h.icons = append(h.icons, r.Name()) }

func TestFlashAlternates(t *testing.T) {
	h := &host{}
	tr := New(h, nil)
	defer tr.Close()
	tr.Update(health.OK, "fine", false)
	tr.Update(health.OK, "fine", true)
	tr.Toggle()
	tr.Toggle()
	tr.Update(health.Degraded, "expiring", false)
	tr.Toggle() // not alerting: no effect
	want := []string{"tray-healthy.png", "tray-alerting.png", "tray-alerting-dim.png", "tray-alerting.png", "tray-degraded.png"}
	if len(h.icons) != len(want) {
		t.Fatalf("icons %v, want %v", h.icons, want)
	}
	for i := range want {
		if h.icons[i] != want[i] {
			t.Fatalf("icons %v, want %v", h.icons, want)
		}
	}
}
