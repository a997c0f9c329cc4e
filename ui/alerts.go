package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"emergencydesk/core/alert"
	"emergencydesk/core/engine"
	"emergencydesk/ui/tray"
)

// FilterNames are the history filter's choices, in Filter order.
var FilterNames = []string{"All", "Unacknowledged", "Test calls"}

// HistoryLimit is how many alerts the history shows.
const HistoryLimit = 500

type alertsPage struct {
	u       *UI
	filter  *widget.Select
	list    *widget.List
	items   []alert.Alert
	detail  *widget.Label
	status  *widget.Label
	content fyne.CanvasObject
}

func newAlertsPage(u *UI) *alertsPage {
	p := &alertsPage{u: u}
	p.filter = widget.NewSelect(FilterNames, func(string) { p.reload() })
	p.filter.SetSelectedIndex(0)
	p.list = widget.NewList(
		func() int { return len(p.items) },
		func() fyne.CanvasObject { return widget.NewLabel("") },
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i < len(p.items) {
				o.(*widget.Label).SetText(tray.AlertLine(p.items[i]) + sourceNote(p.items[i].Source))
			}
		})
	p.list.OnSelected = func(i widget.ListItemID) {
		if i < len(p.items) {
			p.detail.SetText(AlertDetails(p.items[i]))
		}
	}
	p.detail = widget.NewLabel("Select an alert to see its details.")
	p.detail.Wrapping = fyne.TextWrapBreak
	p.detail.Selectable = true
	p.status = widget.NewLabel("")
	export := widget.NewButtonWithIcon("Export CSV…", theme.DownloadIcon(), p.exportCSV)
	top := container.NewBorder(nil, nil, widget.NewLabel("Show:"), container.NewHBox(export), p.filter)
	split := container.NewHSplit(p.list, container.NewVScroll(p.detail))
	split.Offset = 0.45
	p.content = container.NewBorder(top, p.status, nil, nil, split)
	return p
}

func (p *alertsPage) current() engine.Filter {
	if i := p.filter.SelectedIndex(); i > 0 {
		return engine.Filter(i)
	}
	return engine.FilterAll
}

// reload reads the history from the alert log, newest first.
func (p *alertsPage) reload() {
	if p.u == nil || p.list == nil {
		return
	}
	f := p.current()
	p.u.async(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		as, err := p.u.desk.Alerts(ctx, f, HistoryLimit)
		fyne.Do(func() {
			if err != nil {
				p.status.SetText("Cannot read the alert log: " + err.Error())
				return
			}
			p.items = as
			p.status.SetText(fmt.Sprintf("%d alert(s)", len(as)))
			p.list.UnselectAll()
			p.list.Refresh()
		})
	})
}

func (p *alertsPage) selectID(id string) {
	for i, a := range p.items {
		if a.ID == id {
			p.list.Select(i)
			return
		}
	}
}

func (p *alertsPage) exportCSV() {
	f := p.current()
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		p.u.async(func() {
			defer w.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			err := p.u.desk.ExportCSV(ctx, w, f)
			fyne.Do(func() {
				if err != nil {
					p.status.SetText("Export failed: " + err.Error())
				} else {
					p.status.SetText("Exported to " + w.URI().Path())
				}
			})
		})
	}, p.u.main)
	d.SetFileName("emergency-alerts.csv")
	d.Show()
}

func sourceNote(s alert.Source) string {
	switch s {
	case alert.SourceMissedOffline:
		return " · missed while offline"
	case alert.SourceRecovered:
		return " · recovered after an outage"
	}
	return ""
}

// AlertDetails is an alert as plain text, with the raw message JSON as
// received: chat HTML is never rendered.
func AlertDetails(a alert.Alert) string {
	var b strings.Builder
	kind := "Emergency call"
	if a.IsTest {
		kind = "Test call"
	}
	fmt.Fprintf(&b, "%s %s\nCaller: %s\nLocation: %s\nPlaced: %s\nReceived: %s\nMonitoring user: %s\nSource: %s\n",
		kind, a.Number, a.CallerName, orDash(a.Location), a.CreatedAt.Local().Format(time.DateTime),
		a.ReceivedAt.Local().Format(time.DateTime), orDash(a.MonitoringUser), SourceLabel(a.Source))
	if a.Acknowledged != nil {
		fmt.Fprintf(&b, "Acknowledged by %s at %s", a.Acknowledged.By, a.Acknowledged.At.Local().Format(time.DateTime))
		if a.Acknowledged.Comment != "" {
			fmt.Fprintf(&b, ": %s", a.Acknowledged.Comment)
		}
		b.WriteString("\n")
	} else {
		b.WriteString("NOT acknowledged\n")
	}
	if a.WebURL != "" {
		fmt.Fprintf(&b, "Chat: %s\n", a.WebURL)
	}
	fmt.Fprintf(&b, "\nMessage:\n%s\n", a.Text)
	if len(a.Raw) > 0 {
		var pretty bytes.Buffer
		if json.Indent(&pretty, a.Raw, "", "  ") != nil {
			pretty.Reset()
			pretty.Write(a.Raw)
		}
		fmt.Fprintf(&b, "\nRaw message (as received):\n%s\n", pretty.String())
	}
	return b.String()
}

// SourceLabel says in words how an alert reached the desk.
func SourceLabel(s alert.Source) string {
	switch s {
	case alert.SourceMissedOffline:
		return "MISSED WHILE OFFLINE — this call happened while the desk was not running"
	case alert.SourceRecovered:
		return "RECOVERED — found after a gap in the subscription"
	case alert.SourceLive, "":
		return "live"
	}
	return string(s)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
