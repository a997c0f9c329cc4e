package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"emergencydesk/core/config"
	"emergencydesk/core/secrets"
)

// SettingsTabs are the settings tabs: the guide's four, then Advanced.
var SettingsTabs = []string{"OAuth Settings", "Subscription Settings", "Event Hub", "Permissions", "Advanced"}

// Secret fields: vault name, the Problems key, label, tab, and the field
// they follow on screen.
var secretFields = []struct {
	name, key, label, tab, after, help string
}{
	{secrets.ClientSecret, "oauth.clientSecret", "Client Secret", "OAuth Settings", "oauth.clientId",
		"the app registration's client secret Value (Certificates & secrets)"},
	{secrets.ConnectionString, "eventHub.connectionString", "Connection String", "Event Hub", "eventHub.name",
		"the event hub's Shared access policy connection string (Event Hubs → hub → Shared access policies), with EntityPath"},
}

// StoredPlaceholder is shown in a secret field whose value is in the vault:
// stored values are never read back into the UI.
const StoredPlaceholder = "stored in the OS keyring — type a new value to replace it"

type fieldRow struct {
	f     config.Field
	entry *widget.Entry
	check *widget.Check
	sel   *widget.Select
	msg   *widget.Label
}

func (r *fieldRow) value() string {
	switch {
	case r.check != nil:
		return fmt.Sprint(r.check.Checked)
	case r.sel != nil:
		return r.sel.Selected
	case r.f.Key == "alerts.patterns":
		return strings.ReplaceAll(r.entry.Text, "\n", "|")
	}
	return r.entry.Text
}

func (r *fieldRow) set(v string) {
	switch {
	case r.check != nil:
		r.check.SetChecked(v == "true")
	case r.sel != nil:
		r.sel.SetSelected(v)
	case r.f.Key == "alerts.patterns":
		r.entry.SetText(strings.ReplaceAll(v, "|", "\n"))
	default:
		r.entry.SetText(v)
	}
}

type secretRow struct {
	name, key string
	entry     *widget.Entry
	reveal    *widget.Button
	msg       *widget.Label
}

type settingsPage struct {
	u       *UI
	base    config.Config
	rows    []*fieldRow
	byKey   map[string]*fieldRow
	secrets map[string]*secretRow
	tabs    *container.AppTabs
	status  *widget.Label
	groupID *widget.Label
	save    *widget.Button
	loading bool
	content fyne.CanvasObject
}

func newSettingsPage(u *UI) *settingsPage {
	p := &settingsPage{u: u, byKey: map[string]*fieldRow{}, secrets: map[string]*secretRow{}}
	def := config.Default()
	boxes := map[string]*fyne.Container{}
	for _, t := range SettingsTabs {
		boxes[t] = container.NewVBox()
	}
	for _, f := range config.Fields {
		box, ok := boxes[f.Tab]
		if !ok {
			continue
		}
		r := p.newRow(f, def)
		p.rows = append(p.rows, r)
		p.byKey[f.Key] = r
		box.Add(p.rowView(f.Label, r.widget(), helpText(f, def), r.msg))
		for _, s := range secretFields {
			if s.after == f.Key {
				sr := p.newSecret(s.name, s.key)
				box.Add(p.rowView(s.label, sr.entry, s.help, sr.msg))
			}
		}
	}
	// GroupID may be an id or a sentence ("No Kafka consumer group: …"):
	// wrap it, or it alone forces the main window wider than the screen.
	p.groupID = widget.NewLabel("")
	p.groupID.Wrapping = fyne.TextWrapWord
	boxes["Advanced"].Add(p.rowView("Kafka group id (read-only)", p.groupID,
		"how this desk reads the hub; other desks use their own so every desk gets every alert", nil))
	p.tabs = container.NewAppTabs()
	for _, t := range SettingsTabs {
		p.tabs.Append(container.NewTabItem(t, container.NewVScroll(container.NewPadded(boxes[t]))))
	}
	p.status = widget.NewLabel("")
	p.status.Wrapping = fyne.TextWrapWord
	p.save = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), p.onSave)
	p.save.Importance = widget.HighImportance
	test := widget.NewButtonWithIcon("Test integration", theme.MediaPlayIcon(), func() {
		u.ShowPage(PageDiagnostics)
		u.diag.run()
	})
	bar := container.NewBorder(nil, nil, container.NewHBox(p.save, test), nil, p.status)
	p.content = container.NewBorder(nil, bar, nil, nil, p.tabs)
	return p
}

func helpText(f config.Field, def config.Config) string {
	h := f.Help
	if d := f.Get(&def); d != "" && f.Key != "workstationId" && !strings.HasPrefix(f.Key, "permissions.") {
		if f.Key == "alerts.patterns" {
			d = strings.ReplaceAll(d, "|", " | ")
		}
		h = "Default: " + d + ". " + h
	}
	if strings.HasPrefix(f.Key, "permissions.") {
		h = "Needed because without it " + h + "."
	}
	return h
}

func (p *settingsPage) newRow(f config.Field, def config.Config) *fieldRow {
	r := &fieldRow{f: f, msg: widget.NewLabel("")}
	r.msg.Wrapping = fyne.TextWrapWord
	r.msg.Hide()
	d := f.Get(&def)
	switch {
	case f.Key == "cloud.profile":
		var names []string
		for _, pr := range config.Profiles {
			names = append(names, pr.Name)
		}
		r.sel = widget.NewSelect(names, func(string) { p.validate() })
	case d == "true" || d == "false":
		r.check = widget.NewCheck(f.Label, func(bool) { p.validate() })
	default:
		if f.Key == "alerts.patterns" {
			r.entry = widget.NewMultiLineEntry()
			r.entry.SetMinRowsVisible(3)
		} else {
			r.entry = widget.NewEntry()
		}
		if f.Key != "workstationId" {
			r.entry.SetPlaceHolder(d)
		}
		r.entry.OnChanged = func(string) { p.validate() }
	}
	return r
}

func (r *fieldRow) widget() fyne.CanvasObject {
	switch {
	case r.check != nil:
		return r.check
	case r.sel != nil:
		return r.sel
	}
	return r.entry
}

func (p *settingsPage) newSecret(name, key string) *secretRow {
	s := &secretRow{name: name, key: key, entry: widget.NewEntry(), msg: widget.NewLabel("")}
	s.entry.Password = true
	s.msg.Wrapping = fyne.TextWrapWord
	s.msg.Hide()
	// The reveal toggle replaces fyne's own so there is exactly one, and it
	// can only ever show what was typed here: stored values never come back.
	s.reveal = widget.NewButtonWithIcon("", theme.VisibilityIcon(), func() { s.toggle() })
	s.entry.ActionItem = s.reveal
	s.entry.OnChanged = func(string) { p.validate() }
	p.secrets[name] = s
	return s
}

func (s *secretRow) toggle() {
	s.entry.Password = !s.entry.Password
	if s.entry.Password {
		s.reveal.SetIcon(theme.VisibilityIcon())
	} else {
		s.reveal.SetIcon(theme.VisibilityOffIcon())
	}
	s.entry.Refresh()
}

func (p *settingsPage) rowView(label string, w fyne.CanvasObject, help string, msg *widget.Label) fyne.CanvasObject {
	l := widget.NewLabelWithStyle(label, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	items := []fyne.CanvasObject{l, w}
	if help != "" {
		h := widget.NewLabel(help)
		h.Wrapping = fyne.TextWrapWord
		h.SizeName = theme.SizeNameCaptionText
		items = append(items, h)
	}
	if msg != nil {
		items = append(items, msg)
	}
	return container.NewVBox(append(items, widget.NewSeparator())...)
}

// load shows c (on start and when settings change elsewhere).
func (p *settingsPage) load(c config.Config) {
	p.loading = true
	p.base = c.Clone()
	for _, r := range p.rows {
		r.set(r.f.Get(&p.base))
	}
	for _, s := range p.secrets {
		s.entry.SetText("")
		if p.u.desk.HasSecret(s.name) {
			s.entry.SetPlaceHolder(StoredPlaceholder)
		} else {
			s.entry.SetPlaceHolder("not set — paste the value here")
		}
	}
	gid := p.u.desk.GroupID()
	p.groupID.TextStyle.Monospace = !strings.Contains(gid, " ")
	p.groupID.SetText(gid)
	p.loading = false
	p.validate()
}

// collect reads the form: the settings, typed secrets, and every problem.
func (p *settingsPage) collect() (config.Config, map[string]string, config.Problems) {
	c := p.base.Clone()
	var ps config.Problems
	bad := map[string]bool{}
	for _, r := range p.rows {
		if err := r.f.Set(&c, r.value()); err != nil {
			ps = append(ps, config.Problem{Field: r.f.Key, Severity: config.Error, Message: err.Error()})
			bad[r.f.Key] = true
		}
	}
	for _, v := range c.Validate() {
		if !bad[v.Field] {
			ps = append(ps, v)
		}
	}
	typed := map[string]string{}
	for _, s := range p.secrets {
		if v := strings.TrimSpace(s.entry.Text); v != "" {
			typed[s.name] = v
		}
	}
	if raw, ok := typed[secrets.ConnectionString]; ok {
		_, cps := c.ValidateConnString(raw)
		ps = append(ps, cps...)
	} else if !p.u.desk.HasSecret(secrets.ConnectionString) {
		ps = append(ps, config.Problem{Field: "eventHub.connectionString", Severity: config.Warning,
			Message: "no connection string stored: alerts cannot arrive until you paste the event hub's Shared access policy connection string"})
	}
	return c, typed, ps
}

func (p *settingsPage) validate() {
	if p.loading {
		return
	}
	_, _, ps := p.collect()
	p.show(ps)
}

// show puts each problem under its field.
func (p *settingsPage) show(ps config.Problems) {
	put := func(msg *widget.Label, fp config.Problems) {
		if len(fp) == 0 {
			msg.SetText("")
			msg.Hide()
			return
		}
		var lines []string
		msg.Importance = widget.WarningImportance
		for _, x := range fp {
			lines = append(lines, x.Message)
			if x.Severity == config.Error {
				msg.Importance = widget.DangerImportance
			}
		}
		msg.SetText(strings.Join(lines, "\n"))
		msg.Show()
	}
	for _, r := range p.rows {
		put(r.msg, ps.For(r.f.Key))
	}
	for _, s := range p.secrets {
		put(s.msg, ps.For(s.key))
	}
}

// Message returns the validation text shown under a field (tests, screenshots).
func (p *settingsPage) Message(key string) string {
	if r, ok := p.byKey[key]; ok {
		return r.msg.Text
	}
	for _, s := range p.secrets {
		if s.key == key {
			return s.msg.Text
		}
	}
	return ""
}

func (p *settingsPage) onSave() {
	c, typed, ps := p.collect()
	p.show(ps)
	if n := len(ps.Errors()); n > 0 {
		p.status.SetText(fmt.Sprintf("Not saved: %d problem(s) — fix the fields marked in red.", n))
		p.status.Importance = widget.DangerImportance
		p.status.Refresh()
		return
	}
	p.status.SetText("Saving…")
	p.status.Importance = widget.MediumImportance
	p.status.Refresh()
	p.save.Disable()
	p.u.async(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sps, err := p.u.desk.SaveSettings(ctx, c, typed)
		fyne.Do(func() {
			p.save.Enable()
			switch {
			case err != nil:
				p.status.SetText("Not saved: " + err.Error())
				p.status.Importance = widget.DangerImportance
			case len(sps.Errors()) > 0:
				p.show(sps)
				p.status.SetText(fmt.Sprintf("Not saved: %d problem(s) — fix the fields marked in red.", len(sps.Errors())))
				p.status.Importance = widget.DangerImportance
			default:
				p.load(c)
				p.status.SetText("Saved and applied.")
				p.status.Importance = widget.SuccessImportance
			}
			p.status.Refresh()
		})
	})
}
