package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
)

// buildMain makes the main window: a sidebar of pages. Closing it hides it;
// the app keeps running in the tray (only Quit ends it).
func (u *UI) buildMain() {
	w := u.app.NewWindow("Emergency Desk")
	u.main = w
	u.cfg = newSettingsPage(u)
	u.teams = newTeamsPage(u)
	u.hist = newAlertsPage(u)
	u.diag = newDiagPage(u)
	u.dc = newDeviceCodeDialog(u)
	u.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon(PageAlerts, theme.WarningIcon(), u.hist.content),
		container.NewTabItemWithIcon(PageTeams, theme.AccountIcon(), u.teams.content),
		container.NewTabItemWithIcon(PageSettings, theme.SettingsIcon(), u.cfg.content),
		container.NewTabItemWithIcon(PageDiagnostics, theme.InfoIcon(), u.diag.content),
	)
	u.tabs.SetTabLocation(container.TabLocationLeading)
	w.SetContent(u.tabs)
	// Fits a 1280x800 screen with room for panels; every long label wraps,
	// so no page forces the window wider than this.
	w.Resize(fyne.NewSize(1100, 720))
	w.SetCloseIntercept(w.Hide)
	u.cfg.load(u.desk.Config())
}
