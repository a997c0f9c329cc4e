package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"emergencydesk/core/engine"
	"emergencydesk/core/health"
)

type teamsPage struct {
	u       *UI
	list    *fyne.Container
	content fyne.CanvasObject
}

func newTeamsPage(u *UI) *teamsPage {
	p := &teamsPage{u: u, list: container.NewVBox()}
	add := widget.NewButtonWithIcon("Add Monitoring User", theme.ContentAddIcon(), func() { u.dc.open("") })
	add.Importance = widget.HighImportance
	intro := widget.NewLabel("A monitoring user is a Teams account that is a member of the emergency-call chats; the desk reads those chats through it.")
	intro.Wrapping = fyne.TextWrapWord
	head := container.NewVBox(
		widget.NewLabelWithStyle("Teams Integration", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		intro,
		container.NewHBox(add),
		widget.NewSeparator(),
	)
	p.content = container.NewBorder(head, nil, nil, nil, container.NewVScroll(p.list))
	return p
}

func (p *teamsPage) setUsers(us []engine.MonitoringUser) {
	p.list.RemoveAll()
	if len(us) == 0 {
		none := widget.NewLabel("No monitoring user yet: alerts cannot arrive. Click Add Monitoring User and sign in with the Teams account that receives the emergency-call messages.")
		none.Wrapping = fyne.TextWrapWord
		p.list.Add(none)
	}
	for _, mu := range us {
		p.list.Add(p.userCard(mu))
	}
	p.list.Refresh()
}

func (p *teamsPage) userCard(mu engine.MonitoringUser) fyne.CanvasObject {
	name := mu.DisplayName
	if name == "" {
		name = mu.UPN
	}
	id := mu.ID
	reauth := widget.NewButtonWithIcon("Re-authenticate", theme.ViewRefreshIcon(), func() { p.u.dc.open(id) })
	remove := widget.NewButtonWithIcon("Remove", theme.DeleteIcon(), func() { p.confirmRemove(mu) })
	remove.Importance = widget.DangerImportance
	body := container.NewVBox(
		widget.NewLabel("UPN: "+mu.UPN+"\nObject id: "+orDash(mu.ObjectID)),
		componentView("Token", mu.Token),
		componentView("Subscription", mu.Subscription),
		container.NewHBox(reauth, remove),
	)
	return widget.NewCard(name, "", body)
}

// componentView shows a health component in words: state, summary, the
// details (expiry, last refresh, last error) and the fix.
func componentView(title string, c health.Component) fyne.CanvasObject {
	icon := widget.NewIcon(levelIcon(c.Level))
	state := c.State
	if state == "" {
		state = c.Level.String()
	}
	lines := []string{fmt.Sprintf("%s: %s", title, state)}
	if c.Summary != "" {
		lines = append(lines, c.Summary)
	}
	keys := make([]string, 0, len(c.Details))
	for k := range c.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("%s: %s", humanKey(k), c.Details[k]))
	}
	if !c.Since.IsZero() {
		lines = append(lines, "since "+c.Since.Local().Format("2006-01-02 15:04"))
	}
	l := widget.NewLabel(strings.Join(lines, "\n"))
	l.Wrapping = fyne.TextWrapWord
	items := []fyne.CanvasObject{l}
	if c.Fix != "" {
		fix := widget.NewLabel("Fix: " + c.Fix)
		fix.Wrapping = fyne.TextWrapWord
		fix.Importance = widget.WarningImportance
		items = append(items, fix)
	}
	return container.NewBorder(nil, nil, container.NewVBox(icon), nil, container.NewVBox(items...))
}

// humanKey turns "lastRefresh" or "last_refresh" into "last refresh".
func humanKey(k string) string {
	var b strings.Builder
	for i, r := range k {
		switch {
		case r == '_' || r == '-' || r == '.':
			b.WriteRune(' ')
		case r >= 'A' && r <= 'Z' && i > 0:
			b.WriteRune(' ')
			b.WriteRune(r + ('a' - 'A'))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func levelIcon(l health.Level) fyne.Resource {
	switch l {
	case health.OK:
		return theme.ConfirmIcon()
	case health.Degraded:
		return theme.WarningIcon()
	case health.Broken:
		return theme.ErrorIcon()
	}
	return theme.QuestionIcon()
}

// RemoveConfirmText is the question asked before removing a monitoring user.
func RemoveConfirmText(mu engine.MonitoringUser) string {
	return fmt.Sprintf("Remove %s? Its subscription is deleted and its sign-in forgotten; chats only it belongs to will no longer raise alerts.", mu.UPN)
}

func (p *teamsPage) confirmRemove(mu engine.MonitoringUser) {
	dialog.ShowConfirm("Remove monitoring user", RemoveConfirmText(mu), func(ok bool) {
		if !ok {
			return
		}
		p.u.async(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := p.u.desk.RemoveMonitoringUser(ctx, mu.ID); err != nil {
				fyne.Do(func() { p.u.showError("Cannot remove "+mu.UPN, err) })
			}
		})
	}, p.u.main)
}
