package tray

import (
	"fmt"

	"fyne.io/fyne/v2"

	"emergencydesk/core/alert"
	"emergencydesk/core/engine"
)

// Model is the engine state the menu is built from.
type Model struct {
	// Latest alerts, newest first (the menu shows up to MaxLatest).
	Latest []alert.Alert
	// Unacknowledged counts alerts still waiting for someone.
	Unacknowledged int
	Users          []engine.MonitoringUser
	Demo           bool
}

// Actions are what the menu items do; nil actions leave the item disabled.
type Actions struct {
	Open, AckAll, Test, Settings, Teams, About, Quit func()
	ShowAlert                                        func(id string)
	Simulate                                         func(number string)
}

// MaxLatest is how many alerts the menu lists.
const MaxLatest = 5

// Menu labels other code and tests look items up by.
const (
	LabelOpen     = "Open Emergency Desk"
	LabelLatest   = "Latest alerts"
	LabelUsers    = "Monitoring users"
	LabelTest     = "Test integration"
	LabelSettings = "Settings"
	LabelAbout    = "About"
	LabelSim911   = "Simulate 911 call"
	LabelSim933   = "Simulate 933 test call"
	// LabelQuit must stay "Quit": fyne then uses this item (with its
	// confirmation) instead of appending its own unconfirmed Quit.
	LabelQuit = "Quit"
)

// AckAllLabel is the acknowledge-all item's label for n waiting alerts.
func AckAllLabel(n int) string {
	if n == 0 {
		return "Acknowledge all (none waiting)"
	}
	return fmt.Sprintf("Acknowledge all… (%d waiting)", n)
}

// BuildMenu returns the tray menu for m.
func BuildMenu(m Model, a Actions) *fyne.Menu {
	item := func(label string, f func()) *fyne.MenuItem {
		it := fyne.NewMenuItem(label, f)
		it.Disabled = f == nil
		return it
	}
	var latest []*fyne.MenuItem
	for i, al := range m.Latest {
		if i == MaxLatest {
			break
		}
		var f func()
		if a.ShowAlert != nil {
			id := al.ID
			f = func() { a.ShowAlert(id) }
		}
		latest = append(latest, item(AlertLine(al), f))
	}
	if len(latest) == 0 {
		latest = append(latest, item("No alerts yet", nil))
	}
	var users []*fyne.MenuItem
	for _, u := range m.Users {
		users = append(users, item(UserLine(u), a.Teams))
	}
	if len(users) == 0 {
		users = append(users, item("No monitoring user: add one in MS Teams", a.Teams))
	}
	latestItem := fyne.NewMenuItem(LabelLatest, nil)
	latestItem.ChildMenu = fyne.NewMenu("", latest...)
	usersItem := fyne.NewMenuItem(LabelUsers, nil)
	usersItem.ChildMenu = fyne.NewMenu("", users...)
	ack := a.AckAll
	if m.Unacknowledged == 0 {
		ack = nil
	}
	items := []*fyne.MenuItem{
		item(LabelOpen, a.Open),
		fyne.NewMenuItemSeparator(),
		latestItem,
		item(AckAllLabel(m.Unacknowledged), ack),
		usersItem,
		fyne.NewMenuItemSeparator(),
		item(LabelTest, a.Test),
		item(LabelSettings, a.Settings),
		item(LabelAbout, a.About),
	}
	if m.Demo && a.Simulate != nil {
		items = append(items, fyne.NewMenuItemSeparator(),
			item(LabelSim911, func() { a.Simulate("911") }),
			item(LabelSim933, func() { a.Simulate("933") }))
	}
	quit := item(LabelQuit, a.Quit)
	quit.IsQuit = true
	items = append(items, fyne.NewMenuItemSeparator(), quit)
	return fyne.NewMenu("Emergency Desk", items...)
}

// AlertLine is one alert in a menu: kind, caller, time, and whether it waits.
func AlertLine(al alert.Alert) string {
	kind := "Emergency"
	if al.IsTest {
		kind = "Test"
	}
	num := al.Number
	if num != "" {
		num = " " + num
	}
	s := fmt.Sprintf("%s%s · %s · %s", kind, num, orUnknown(al.CallerName), al.CreatedAt.Local().Format("Jan 2 15:04"))
	if al.Acknowledged == nil {
		s += " · NOT acknowledged"
	}
	return s
}

// UserLine is a monitoring user with its token health in one line.
func UserLine(u engine.MonitoringUser) string {
	name := u.DisplayName
	if name == "" {
		name = u.UPN
	}
	s := fmt.Sprintf("%s — token: %s", orUnknown(name), orUnknown(u.Token.State))
	if u.Token.Summary != "" {
		s += " (" + u.Token.Summary + ")"
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
