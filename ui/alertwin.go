package ui

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"emergencydesk/core/alert"
	"emergencydesk/ui/ontop"
)

// Banner colours: emergency red, and an unmistakably different blue for tests.
var (
	EmergencyRed = color.NRGBA{0xc6, 0x28, 0x28, 0xff}
	TestBlue     = color.NRGBA{0x15, 0x65, 0xc0, 0xff}
)

// Banner is the big line at the top of an alert.
func Banner(a alert.Alert) string {
	if a.IsTest {
		n := a.Number
		if n == "" {
			n = "933"
		}
		return "TEST CALL — " + n + " (test only, not an emergency)"
	}
	n := a.Number
	if n == "" {
		n = "911"
	}
	return "EMERGENCY CALL — " + n
}

// WindowTitle is the alert window's title for the waiting alerts (newest
// first). It always contains "EMERGENCY CALL" or "TEST CALL" so the desk
// (and an Xvfb test, by title) can find it.
func WindowTitle(waiting []alert.Alert) string {
	if len(waiting) == 0 {
		return "Emergency Desk alerts"
	}
	lead := waiting[0]
	for _, a := range waiting {
		if !a.IsTest {
			lead = a
			break
		}
	}
	t := "EMERGENCY CALL — " + orUnknownCaller(lead.CallerName)
	if lead.IsTest {
		t = "TEST CALL — " + orUnknownCaller(lead.CallerName)
	}
	if len(waiting) > 1 {
		t += fmt.Sprintf(" (+%d more waiting)", len(waiting)-1)
	}
	return t
}

func orUnknownCaller(s string) string {
	if s == "" {
		return "unknown caller"
	}
	return s
}

// Ago says how long ago t was, in words.
func Ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min ago", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}

type alertCard struct {
	a       alert.Alert
	when    *widget.Label
	comment *widget.Entry
	ack     *widget.Button
	err     *widget.Label
	view    fyne.CanvasObject
}

// alertWindow lists every unacknowledged alert, newest first, so no alert
// hides another.
type alertWindow struct {
	u     *UI
	win   fyne.Window
	box   *fyne.Container
	cards []*alertCard
	stop  chan struct{}
}

func newAlertWindow(u *UI) *alertWindow {
	return &alertWindow{u: u, box: container.NewVBox()}
}

// window creates the native window on the first alert: a desk that never
// sees a call does not pay for a second GL window.
func (w *alertWindow) window() fyne.Window {
	if w.win == nil {
		w.win = w.u.app.NewWindow(WindowTitle(w.waiting()))
		w.win.SetContent(container.NewVScroll(w.box))
		w.win.Resize(fyne.NewSize(780, 600))
		// Closing only hides it: the tray keeps flashing until acknowledged.
		w.win.SetCloseIntercept(w.win.Hide)
	}
	return w.win
}

func (w *alertWindow) count() int { return len(w.cards) }

func (w *alertWindow) has(id string) bool {
	for _, c := range w.cards {
		if c.a.ID == id {
			return true
		}
	}
	return false
}

func (w *alertWindow) waiting() []alert.Alert {
	out := make([]alert.Alert, len(w.cards))
	for i, c := range w.cards {
		out[i] = c.a
	}
	return out
}

// add shows a; fresh alerts also notify. Emergency calls loop the alarm
// until acknowledged; test calls chime once.
func (w *alertWindow) add(a alert.Alert, fresh bool) {
	if w.has(a.ID) {
		return
	}
	c := w.card(a)
	w.cards = append([]*alertCard{c}, w.cards...)
	w.rebuild()
	w.show()
	w.startTicker()
	u := w.u
	if s := u.o.Sound; s != nil && u.desk.Config().Alerts.Sound {
		if a.IsTest {
			if fresh {
				s.Chime()
			}
		} else {
			s.StartAlarm()
		}
	}
	if fresh && u.o.Notifier != nil {
		body := fmt.Sprintf("%s\nCaller: %s", Banner(a), orUnknownCaller(a.CallerName))
		if a.Location != "" {
			body += "\nLocation: " + a.Location
		}
		u.o.Notifier.Alert(WindowTitle([]alert.Alert{a}), body)
	}
}

// show raises the window, pinned above other windows on every workspace
// (ui/ontop: Fyne has no API for it, fyne-io/fyne#1183), and focused; the
// flashing tray and the notification back it up.
func (w *alertWindow) show() {
	w.window().Show()
	w.pin(0)
	w.win.RequestFocus()
}

// pin keeps the window on top once its native window exists.
func (w *alertWindow) pin(try int) {
	err := ontop.Pin(w.win)
	if errors.Is(err, ontop.ErrNotYet) && try < 40 {
		time.AfterFunc(50*time.Millisecond, func() { fyne.Do(func() { w.pin(try + 1) }) })
		return
	}
	if err != nil {
		w.u.log.Warn("alert window: cannot keep it above other windows", "err", err)
	}
}

func (w *alertWindow) remove(id string) {
	for i, c := range w.cards {
		if c.a.ID == id {
			w.cards = append(w.cards[:i:i], w.cards[i+1:]...)
			break
		}
	}
	emergency := false
	for _, c := range w.cards {
		emergency = emergency || !c.a.IsTest
	}
	if !emergency && w.u.o.Sound != nil {
		w.u.o.Sound.StopAlarm()
	}
	w.rebuild()
	if len(w.cards) == 0 {
		w.stopTicker()
		if w.win != nil {
			w.win.Hide()
		}
	}
	w.u.refreshTray()
}

func (w *alertWindow) rebuild() {
	w.box.RemoveAll()
	for _, c := range w.cards {
		w.box.Add(c.view)
	}
	w.box.Refresh()
	if w.win != nil {
		w.win.SetTitle(WindowTitle(w.waiting()))
	}
}

func (w *alertWindow) card(a alert.Alert) *alertCard {
	c := &alertCard{a: a}
	bg := EmergencyRed
	if a.IsTest {
		bg = TestBlue
	}
	// The banner's big line is short so it never forces the window wider;
	// a test call says under it, in words, that it is not an emergency.
	big := Banner(a)
	var sub string
	if a.IsTest {
		big, sub, _ = strings.Cut(big, " (")
		sub = "Test only — not an emergency. Acknowledge to confirm the test reached this desk."
	}
	text := canvas.NewText(big, color.White)
	text.TextSize = 30
	text.TextStyle.Bold = true
	text.Alignment = fyne.TextAlignCenter
	lines := []fyne.CanvasObject{text}
	if sub != "" {
		st := canvas.NewText(sub, color.White)
		st.TextSize = 14
		st.Alignment = fyne.TextAlignCenter
		lines = append(lines, st)
	}
	banner := container.NewStack(canvas.NewRectangle(bg), container.NewPadded(container.NewVBox(lines...)))
	items := []fyne.CanvasObject{banner}
	if a.Source == alert.SourceMissedOffline || a.Source == alert.SourceRecovered {
		s := widget.NewLabelWithStyle(SourceLabel(a.Source), fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
		s.Importance = widget.WarningImportance
		s.Wrapping = fyne.TextWrapWord
		items = append(items, s)
	}
	caller := widget.NewLabelWithStyle("Caller: "+orUnknownCaller(a.CallerName), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	caller.SizeName = theme.SizeNameSubHeadingText
	value := func(s string) *widget.Label {
		l := widget.NewLabel(s)
		l.Wrapping = fyne.TextWrapWord
		return l
	}
	key := func(s string) *widget.Label {
		return widget.NewLabelWithStyle(s, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
	}
	c.when = value("")
	facts := container.New(layout.NewFormLayout(),
		key("Location"), value(orDash(a.Location)),
		key("Placed"), c.when,
		key("Seen by"), value("monitoring user "+orDash(a.MonitoringUser)),
	)
	// The message is plain text (alert.Text); chat HTML is never rendered.
	msg := value(a.Text)
	msg.TextStyle.Italic = true
	open := widget.NewButtonWithIcon("Open chat in Teams", theme.MailComposeIcon(), func() { w.u.openURL(a.WebURL) })
	if a.WebURL == "" {
		open.Disable()
	}
	c.comment = widget.NewEntry()
	c.comment.SetPlaceHolder("Comment (optional), e.g. called back, ambulance sent")
	c.ack = widget.NewButtonWithIcon("Acknowledge", theme.ConfirmIcon(), func() { w.acknowledge(c) })
	c.ack.Importance = widget.HighImportance
	c.err = widget.NewLabel("")
	c.err.Importance = widget.DangerImportance
	c.err.Wrapping = fyne.TextWrapWord
	c.err.Hide()
	items = append(items, caller, facts, msg,
		container.NewBorder(nil, nil, open, c.ack, c.comment), c.err, widget.NewSeparator())
	c.view = container.NewVBox(items...)
	w.tickCard(c)
	return c
}

func (w *alertWindow) tickCard(c *alertCard) {
	t := c.a.CreatedAt
	if t.IsZero() {
		t = c.a.ReceivedAt
	}
	c.when.SetText(fmt.Sprintf("%s (%s)", t.Local().Format("Mon 2 Jan 15:04:05"), Ago(w.u.o.Now(), t)))
}

func (w *alertWindow) tick() {
	for _, c := range w.cards {
		w.tickCard(c)
	}
}

func (w *alertWindow) startTicker() {
	if w.stop != nil {
		return
	}
	w.stop = everySecond(w.tick)
}

func (w *alertWindow) stopTicker() {
	if w.stop != nil {
		close(w.stop)
		w.stop = nil
	}
}

func (w *alertWindow) close() {
	w.stopTicker()
}

// acknowledge records the ack with this desk's user name and the comment.
func (w *alertWindow) acknowledge(c *alertCard) {
	c.ack.Disable()
	c.err.Hide()
	id, by, comment := c.a.ID, w.u.o.UserName, c.comment.Text
	w.u.async(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := w.u.desk.Acknowledge(ctx, id, by, comment)
		fyne.Do(func() {
			if err != nil {
				c.ack.Enable()
				c.err.SetText("Not acknowledged: " + err.Error())
				c.err.Show()
				return
			}
			w.remove(id)
		})
	})
}

func (w *alertWindow) ackAll(comment string) {
	for _, c := range append([]*alertCard(nil), w.cards...) {
		if c.comment.Text == "" {
			c.comment.SetText(comment)
		}
		w.acknowledge(c)
	}
}
