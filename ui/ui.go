package ui

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os/user"
	"slices"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"emergencydesk/core/alert"
	"emergencydesk/core/engine"
	"emergencydesk/core/health"
	"emergencydesk/ui/tray"
)

// Sound is the alarm output (ui/sound.Player satisfies it).
type Sound interface {
	StartAlarm()
	StopAlarm()
	Chime()
}

// Notifier sends a desktop notification (ui/notify.Notifier satisfies it).
type Notifier interface{ Alert(title, body string) }

// Options configure the UI; zero values have working defaults.
type Options struct {
	Logger   *slog.Logger
	Sound    Sound    // nil: silent
	Notifier Notifier // nil: no desktop notification
	// Tray receives the icon and menu (fyne's desktop.App); nil: no tray.
	Tray tray.Host
	// Tooltip receives the tray's one-line reason (e.g. systray.SetTooltip).
	Tooltip func(string)
	// OpenURL opens a browser; default fyne.App.OpenURL.
	OpenURL func(*url.URL) error
	// UserName records who acknowledged; default the OS user.
	UserName string
	Version  string
	// Quit ends the app after confirmation; default fyne.App.Quit.
	Quit func()
	// Now is the clock (tests pass a fake).
	Now func() time.Time
}

// Page names of the main window's sidebar.
const (
	PageAlerts      = "Alerts"
	PageTeams       = "MS Teams"
	PageSettings    = "Settings"
	PageDiagnostics = "Diagnostics"
)

// UI is the desktop front end: tray, main window, alert window. Its
// methods run on the Fyne thread; engine events are applied with fyne.Do.
type UI struct {
	app  fyne.App
	desk engine.Desk
	o    Options
	log  *slog.Logger
	// async runs desk calls off the Fyne thread; tests make it synchronous.
	async func(func())

	main  fyne.Window
	tabs  *container.AppTabs
	tray  *tray.Tray
	cfg   *settingsPage
	teams *teamsPage
	hist  *alertsPage
	diag  *diagPage
	aw    *alertWindow
	dc    *deviceCodeDialog
	// status is the health line above every page.
	status *widget.Label

	health  health.Overall
	users   []engine.MonitoringUser
	latest  []alert.Alert // newest first, for the tray menu
	menu    *fyne.Menu
	menuKey string // what the published tray menu shows
	stop    func()
	stopped chan struct{}
	once    sync.Once
}

// New builds the UI on a (the caller's app; widget tests pass test.NewTempApp).
func New(a fyne.App, desk engine.Desk, o Options) *UI {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.OpenURL == nil {
		o.OpenURL = a.OpenURL
	}
	if o.Quit == nil {
		o.Quit = a.Quit
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.UserName == "" {
		o.UserName = osUser()
	}
	u := &UI{app: a, desk: desk, o: o, log: o.Logger, async: func(f func()) { go f() }, stopped: make(chan struct{})}
	u.buildMain()
	u.aw = newAlertWindow(u)
	if o.Tray != nil {
		u.tray = tray.New(o.Tray, o.Tooltip)
	}
	return u
}

func osUser() string {
	if cu, err := user.Current(); err == nil {
		if cu.Username != "" {
			return cu.Username
		}
		return cu.Name
	}
	return "unknown user"
}

// Start loads the engine's state, shows the tray and applies engine events
// until Stop. showMain opens the main window at once.
func (u *UI) Start(showMain bool) {
	u.health = u.desk.Health()
	u.users = u.desk.Users()
	u.teams.setUsers(u.users)
	u.diag.setHealth(u.health)
	u.setStatus(u.health)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if waiting, err := u.desk.Alerts(ctx, engine.FilterUnacknowledged, 100); err == nil {
		// Alerts left unacknowledged by a previous run still need someone.
		for i := len(waiting) - 1; i >= 0; i-- {
			u.aw.add(waiting[i], false)
		}
	} else {
		u.log.Warn("cannot read unacknowledged alerts", "err", err)
	}
	if all, err := u.desk.Alerts(ctx, engine.FilterAll, tray.MaxLatest); err == nil {
		u.latest = all
	}
	cancel()
	u.hist.reload()
	u.refreshTray()
	if showMain {
		if u.desk.Config().OAuth.ClientID == "" {
			// A new desk: start where the set-up is.
			u.ShowPage(PageSettings)
		} else {
			u.main.Show()
		}
	}
	ch, unsub := u.desk.Subscribe()
	u.stop = unsub
	go func() {
		defer close(u.stopped)
		for ev := range ch {
			fyne.Do(func() { u.Apply(ev) })
		}
	}()
}

// Stop ends the event loop and silences the alarm.
func (u *UI) Stop() {
	u.once.Do(func() {
		if u.stop != nil {
			u.stop()
		}
		if u.tray != nil {
			u.tray.Close()
		}
		u.aw.close()
		if u.o.Sound != nil {
			u.o.Sound.StopAlarm()
		}
	})
}

// Apply shows one engine event (on the Fyne thread).
func (u *UI) Apply(ev engine.Event) {
	switch e := ev.(type) {
	case engine.AlertRaised:
		u.latest = slices.Insert(slices.DeleteFunc(u.latest, func(a alert.Alert) bool { return a.ID == e.Alert.ID }), 0, e.Alert)
		if len(u.latest) > tray.MaxLatest {
			u.latest = u.latest[:tray.MaxLatest]
		}
		if e.Alert.Acknowledged == nil {
			u.aw.add(e.Alert, true)
		}
		u.hist.reload()
	case engine.AlertAcknowledged:
		for i := range u.latest {
			if u.latest[i].ID == e.ID {
				ack := e.Ack
				u.latest[i].Acknowledged = &ack
			}
		}
		u.aw.remove(e.ID)
		u.hist.reload()
	case engine.HealthChanged:
		u.health = e.Health
		u.diag.setHealth(e.Health)
		u.setStatus(e.Health)
	case engine.UsersChanged:
		u.users = e.Users
		u.teams.setUsers(e.Users)
	case engine.DeviceCodeNeeded:
		u.dc.showCode(e.Prompt)
	case engine.SignInFinished:
		u.dc.finished(e)
	case engine.SettingsChanged:
		u.cfg.load(e.Config)
	}
	u.refreshTray()
}

// alerting says whether any alert waits for acknowledgement.
func (u *UI) alerting() bool { return u.aw.count() > 0 }

func (u *UI) refreshTray() {
	if u.tray == nil {
		return
	}
	reason := u.health.Reason
	if n := u.aw.count(); n > 0 {
		reason = fmt.Sprintf("%d alert(s) NOT acknowledged — %s", n, reason)
	}
	u.tray.Update(u.health.Level, reason, u.alerting())
	m := u.buildMenu()
	// Re-publishing an unchanged menu renumbers its items over dbusmenu,
	// so a click in flight would be lost: only publish real changes.
	k := menuKey(m)
	for _, a := range u.latest {
		k += a.ID + ";" // items with equal labels still open their own alert
	}
	if k != u.menuKey {
		u.menu, u.menuKey = m, k
		u.o.Tray.SetSystemTrayMenu(m)
	}
}

// menuKey is a menu's visible content: labels, enabled state, submenus.
func menuKey(m *fyne.Menu) string {
	var b strings.Builder
	var walk func(*fyne.Menu)
	walk = func(m *fyne.Menu) {
		for _, it := range m.Items {
			fmt.Fprintf(&b, "%s|%v|%v|%v;", it.Label, it.Disabled, it.IsSeparator, it.IsQuit)
			if it.ChildMenu != nil {
				b.WriteString("[")
				walk(it.ChildMenu)
				b.WriteString("]")
			}
		}
	}
	walk(m)
	return b.String()
}

// Menu returns the tray menu as last built (tests and the harness read it).
func (u *UI) Menu() *fyne.Menu {
	if u.menu == nil {
		u.menu = u.buildMenu()
	}
	return u.menu
}

// TrayState is the icon state on screen now.
func (u *UI) TrayState() tray.State {
	if u.tray == nil {
		return tray.StateFor(u.health.Level, u.alerting())
	}
	return u.tray.Shown()
}

func (u *UI) buildMenu() *fyne.Menu {
	return tray.BuildMenu(tray.Model{
		Latest: u.latest, Unacknowledged: u.aw.count(), Users: u.users, Demo: u.desk.DemoMode(),
	}, tray.Actions{
		Open:      func() { u.ShowPage(PageAlerts) },
		ShowAlert: func(id string) { u.showAlert(id) },
		AckAll:    u.confirmAckAll,
		Test:      func() { u.ShowPage(PageDiagnostics); u.diag.run() },
		Settings:  func() { u.ShowPage(PageSettings) },
		Teams:     func() { u.ShowPage(PageTeams) },
		About:     u.showAbout,
		Quit:      u.confirmQuit,
		Simulate:  u.simulate,
	})
}

func (u *UI) showAlert(id string) {
	if u.aw.has(id) {
		u.aw.show()
		return
	}
	u.ShowPage(PageAlerts)
	u.hist.selectID(id)
}

// ShowPage shows the main window on one sidebar page.
func (u *UI) ShowPage(name string) {
	for i, it := range u.tabs.Items {
		if it.Text == name {
			u.tabs.SelectIndex(i)
		}
	}
	u.main.Show()
	u.main.RequestFocus()
}

// MainWindow is the main window (hidden, not closed, when the user closes it).
func (u *UI) MainWindow() fyne.Window { return u.main }

// QuitConfirmText is what the Quit confirmation says.
const QuitConfirmText = "Quitting stops alerts: no alarm will sound on this desk until Emergency Desk is started again."

func (u *UI) confirmQuit() {
	u.main.Show()
	dialog.ShowConfirm("Quit Emergency Desk?", QuitConfirmText, func(ok bool) {
		if ok {
			u.Stop()
			u.o.Quit()
		}
	}, u.main)
}

func (u *UI) confirmAckAll() {
	n := u.aw.count()
	if n == 0 {
		return
	}
	comment := widget.NewEntry()
	comment.SetPlaceHolder("Comment (optional)")
	u.main.Show()
	dialog.ShowForm(fmt.Sprintf("Acknowledge all %d alert(s)?", n), "Acknowledge all", "Cancel",
		[]*widget.FormItem{widget.NewFormItem("Comment", comment)}, func(ok bool) {
			if ok {
				u.aw.ackAll(comment.Text)
			}
		}, u.main)
}

func (u *UI) showAbout() {
	v := u.o.Version
	if v == "" {
		v = "dev"
	}
	u.main.Show()
	dialog.ShowInformation("About Emergency Desk",
		"Emergency Desk "+v+"\nRaises an alarm on this desk whenever someone places an emergency call from Microsoft Teams.\n\n"+
			"Keep it running: quitting stops alerts.", u.main)
}

func (u *UI) simulate(number string) {
	u.async(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := u.desk.SimulateCall(ctx, number); err != nil {
			fyne.Do(func() { u.showError("Simulated call failed", err) })
		}
	})
}

func (u *UI) showError(title string, err error) {
	u.main.Show()
	dialog.ShowInformation(title, err.Error(), u.main)
}

func (u *UI) openURL(raw string) {
	p, err := url.Parse(raw)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") {
		u.showError("Cannot open link", fmt.Errorf("%q is not a web address", raw))
		return
	}
	if err := u.o.OpenURL(p); err != nil {
		u.showError("Cannot open link", err)
	}
}
