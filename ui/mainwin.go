package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"emergencydesk/core/health"
	"emergencydesk/ui/tray"
)

// statusText and statusImportance word and colour the health line.
func statusText(o health.Overall) string {
	switch o.Level {
	case health.OK:
		return "● Alert chain healthy — " + tray.OneLine(o.Reason)
	case health.Degraded:
		return "● Needs attention — " + tray.OneLine(o.Reason)
	case health.Broken:
		return "● ALERTS CANNOT ARRIVE — " + tray.OneLine(o.Reason)
	default:
		return "● Not configured — " + tray.OneLine(o.Reason)
	}
}

func statusImportance(l health.Level) widget.Importance {
	switch l {
	case health.OK:
		return widget.SuccessImportance
	case health.Degraded:
		return widget.WarningImportance
	case health.Broken:
		return widget.DangerImportance
	default:
		return widget.LowImportance
	}
}

// setStatus shows o in the main window's health line.
func (u *UI) setStatus(o health.Overall) {
	u.status.SetText(statusText(o))
	u.status.Importance = statusImportance(o.Level)
	u.status.Refresh()
}

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
	// The chain's health in one line above every page, as the tray shows it.
	u.status = widget.NewLabel("")
	u.status.Wrapping = fyne.TextWrapWord
	u.status.TextStyle = fyne.TextStyle{Bold: true}
	w.SetContent(container.NewBorder(u.status, nil, nil, nil, u.tabs))
	// Fits a 1280x800 screen with room for panels; every long label wraps,
	// so no page forces the window wider than this.
	w.Resize(fyne.NewSize(1100, 720))
	w.SetCloseIntercept(w.Hide)
	u.cfg.load(u.desk.Config())
}
