package tray

import (
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"

	"emergencydesk/assets"
	"emergencydesk/core/health"
)

// State is what the tray icon shows.
type State int

// Tray states. AlertingDim is the off-phase of the alerting flash.
const (
	Unconfigured State = iota
	Healthy
	Degraded
	Broken
	Alerting
	AlertingDim
)

func (s State) String() string {
	if int(s) < len(table) {
		return table[s].name
	}
	return "unknown"
}

// table maps each state to its PNG (fyne.io/systray on Linux shows PNG only).
var table = [...]struct {
	name string
	icon fyne.Resource
}{
	Unconfigured: {"unconfigured", fyne.NewStaticResource("tray-unconfigured.png", assets.TrayUnconfigured)},
	Healthy:      {"healthy", fyne.NewStaticResource("tray-healthy.png", assets.TrayHealthy)},
	Degraded:     {"degraded", fyne.NewStaticResource("tray-degraded.png", assets.TrayDegraded)},
	Broken:       {"broken", fyne.NewStaticResource("tray-broken.png", assets.TrayBroken)},
	Alerting:     {"alerting", fyne.NewStaticResource("tray-alerting.png", assets.TrayAlerting)},
	AlertingDim:  {"alerting-dim", fyne.NewStaticResource("tray-alerting-dim.png", assets.TrayAlertingDim)},
}

// levelState maps a health level to its steady (not alerting) state.
var levelState = map[health.Level]State{
	health.Unconfigured: Unconfigured,
	health.OK:           Healthy,
	health.Degraded:     Degraded,
	health.Broken:       Broken,
}

// Icon returns the PNG resource for a state.
func Icon(s State) fyne.Resource { return table[s].icon }

// StateFor is the icon state for a health level, with any unacknowledged
// alert overriding health (the desk must see the alarm first).
func StateFor(l health.Level, alerting bool) State {
	if alerting {
		return Alerting
	}
	if s, ok := levelState[l]; ok {
		return s
	}
	return Broken
}

// Host is where the icon and menu go; fyne's desktop.App satisfies it.
type Host interface {
	SetSystemTrayMenu(*fyne.Menu)
	SetSystemTrayIcon(fyne.Resource)
}

// FlashInterval is the alerting icon's half period.
const FlashInterval = 500 * time.Millisecond

// Tray owns the icon: it shows the state for the current health and flashes
// while alerting. Its methods must be called on the Fyne thread.
type Tray struct {
	host    Host
	tooltip func(string)

	state State
	dim   bool
	mu    sync.Mutex // guards stop (the flash goroutine reads it)
	stop  chan struct{}
}

// New returns a tray drawing on host; tooltip (may be nil) receives the
// one-line reason.
func New(host Host, tooltip func(string)) *Tray {
	t := &Tray{host: host, tooltip: tooltip, state: -1}
	return t
}

// Update sets the icon for level, the tooltip to reason, and starts or
// stops flashing.
func (t *Tray) Update(level health.Level, reason string, alerting bool) {
	s := StateFor(level, alerting)
	if t.tooltip != nil {
		t.tooltip(clip(OneLine(reason), 200))
	}
	if s == t.state {
		return
	}
	t.state, t.dim = s, false
	t.host.SetSystemTrayIcon(Icon(s))
	t.mu.Lock()
	defer t.mu.Unlock()
	if s == Alerting && t.stop == nil {
		t.stop = make(chan struct{})
		go t.flash(t.stop)
	} else if s != Alerting && t.stop != nil {
		close(t.stop)
		t.stop = nil
	}
}

// Shown is the state whose icon is on screen now (Alerting or AlertingDim
// while flashing).
func (t *Tray) Shown() State {
	if t.state == Alerting && t.dim {
		return AlertingDim
	}
	return t.state
}

// Toggle advances the flash by one phase (the flash goroutine calls it).
func (t *Tray) Toggle() {
	if t.state != Alerting {
		return
	}
	t.dim = !t.dim
	t.host.SetSystemTrayIcon(Icon(t.Shown()))
}

// Close stops flashing.
func (t *Tray) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stop != nil {
		close(t.stop)
		t.stop = nil
	}
}

func (t *Tray) flash(stop chan struct{}) {
	tk := time.NewTicker(FlashInterval)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
			fyne.Do(func() {
				t.mu.Lock()
				live := t.stop == stop
				t.mu.Unlock()
				if live {
					t.Toggle()
				}
			})
		}
	}
}

// OneLine folds line breaks and tabs into spaces (a tooltip or a status
// line shows one line).
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
}

// clip shortens s to max runes, ending in an ellipsis.
func clip(s string, max int) string {
	out := []rune(s)
	if len(out) > max {
		out = append(out[:max-1], '…')
	}
	return string(out)
}
