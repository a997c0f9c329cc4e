package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"emergencydesk/core/engine"
	"emergencydesk/core/health"
)

type diagPage struct {
	u       *UI
	summary *widget.Label
	checks  *fyne.Container
	runBtn  *widget.Button
	copyBtn *widget.Button
	report  *engine.Report
	running bool
	content fyne.CanvasObject
}

func newDiagPage(u *UI) *diagPage {
	p := &diagPage{u: u, checks: container.NewVBox()}
	p.summary = widget.NewLabel("")
	p.summary.Wrapping = fyne.TextWrapWord
	p.runBtn = widget.NewButtonWithIcon("Run integration test", theme.MediaPlayIcon(), p.run)
	p.runBtn.Importance = widget.HighImportance
	p.copyBtn = widget.NewButtonWithIcon("Copy report (JSON)", theme.ContentCopyIcon(), p.copyJSON)
	p.copyBtn.Disable()
	top := container.NewVBox(container.NewHBox(p.runBtn, p.copyBtn), p.summary, widget.NewSeparator())
	p.content = container.NewBorder(top, nil, nil, nil, container.NewVScroll(p.checks))
	return p
}

func (p *diagPage) setHealth(o health.Overall) {
	if p.report == nil && !p.running {
		p.summary.SetText("Now: " + o.Reason + "\nRun the integration test to check every link of the chain.")
	}
}

// run starts desk.Diagnose and shows the checks when done.
func (p *diagPage) run() {
	if p.running {
		return
	}
	p.running = true
	p.runBtn.Disable()
	p.summary.SetText("Testing every link of the chain…")
	p.u.async(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r, err := p.u.desk.Diagnose(ctx)
		fyne.Do(func() {
			p.running = false
			p.runBtn.Enable()
			if err != nil {
				p.summary.SetText("The integration test could not run: " + err.Error())
				return
			}
			p.show(r)
		})
	})
}

func (p *diagPage) show(r engine.Report) {
	p.report = &r
	p.copyBtn.Enable()
	p.checks.RemoveAll()
	count := map[string]int{}
	for _, c := range r.Checks {
		count[c.Status]++
		title := widget.NewLabelWithStyle(fmt.Sprintf("%s — %s", c.Title, c.Status), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		lines := []fyne.CanvasObject{title}
		if c.Detail != "" {
			d := widget.NewLabel(c.Detail)
			d.Wrapping = fyne.TextWrapWord
			lines = append(lines, d)
		}
		if c.Fix != "" {
			f := widget.NewLabel("Fix: " + c.Fix)
			f.Wrapping = fyne.TextWrapWord
			f.Importance = widget.WarningImportance
			lines = append(lines, f)
		}
		p.checks.Add(container.NewBorder(nil, nil, widget.NewIcon(StatusIcon(c.Status)), nil, container.NewVBox(lines...)))
		p.checks.Add(widget.NewSeparator())
	}
	p.summary.SetText(fmt.Sprintf("Ran %s in %s: %d passed, %d warnings, %d failed, %d skipped.",
		r.Started.Local().Format(time.DateTime), r.Duration.Round(time.Millisecond),
		count["pass"], count["warn"], count["fail"], count["skip"]))
	p.checks.Refresh()
}

// StatusIcon is a check status's icon.
func StatusIcon(status string) fyne.Resource {
	switch status {
	case "pass":
		return theme.ConfirmIcon()
	case "warn":
		return theme.WarningIcon()
	case "fail":
		return theme.ErrorIcon()
	}
	return theme.MediaSkipNextIcon()
}

func (p *diagPage) copyJSON() {
	if p.report == nil {
		return
	}
	b, err := json.MarshalIndent(p.report, "", "  ")
	if err != nil {
		p.summary.SetText("Cannot encode the report: " + err.Error())
		return
	}
	p.u.app.Clipboard().SetContent(string(b))
}
