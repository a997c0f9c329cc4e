package ui

import (
	"bytes"
	"net/url"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"emergencydesk/core/alert"
	"emergencydesk/ui/internal/fakedesk"
)

type fakeSound struct {
	mu                    sync.Mutex
	alarm                 bool
	starts, stops, chimes int
}

func (s *fakeSound) StartAlarm() { s.mu.Lock(); s.alarm = true; s.starts++; s.mu.Unlock() }
func (s *fakeSound) StopAlarm()  { s.mu.Lock(); s.alarm = false; s.stops++; s.mu.Unlock() }
func (s *fakeSound) Chime()      { s.mu.Lock(); s.chimes++; s.mu.Unlock() }

type fakeNotifier struct{ titles []string }

func (n *fakeNotifier) Alert(title, body string) { n.titles = append(n.titles, title) }

type fakeHost struct {
	icon fyne.Resource
	menu *fyne.Menu
	tip  string
}

func (h *fakeHost) SetSystemTrayMenu(m *fyne.Menu)    { h.menu = m }
func (h *fakeHost) SetSystemTrayIcon(r fyne.Resource) { h.icon = r }

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

type rig struct {
	u     *UI
	desk  *fakedesk.Desk
	sound *fakeSound
	note  *fakeNotifier
	host  *fakeHost
	clk   *clock
	quits int
	urls  []string
}

func newRig(t *testing.T, setup func(*fakedesk.Desk)) *rig {
	t.Helper()
	a := test.NewTempApp(t)
	r := &rig{desk: fakedesk.New(), sound: &fakeSound{}, note: &fakeNotifier{}, host: &fakeHost{},
		clk: &clock{time.Date(2025, 3, 4, 14, 5, 0, 0, time.Local)}}
	if setup != nil {
		setup(r.desk)
	}
	r.u = New(a, r.desk, Options{Sound: r.sound, Notifier: r.note, Tray: r.host,
		Tooltip: func(s string) { r.host.tip = s }, UserName: "guard1", Now: r.clk.Now,
		Quit: func() { r.quits++ }, OpenURL: func(u *url.URL) error { r.urls = append(r.urls, u.String()); return nil }})
	r.u.async = func(f func()) { f() } // deterministic: desk calls finish before the tap returns
	r.u.Start(false)
	t.Cleanup(r.u.Stop)
	return r
}

// find returns the first object under o satisfying ok.
func find[T fyne.CanvasObject](o fyne.CanvasObject, ok func(T) bool) (T, bool) {
	for _, x := range test.LaidOutObjects(o) {
		if v, is := x.(T); is && ok(v) {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// overlayButton finds a button labelled text in the window's top overlay (a dialog).
func overlayButton(t *testing.T, w fyne.Window, text string) *widget.Button {
	t.Helper()
	top := w.Canvas().Overlays().Top()
	if top == nil {
		t.Fatalf("no dialog is showing; wanted a %q button", text)
	}
	b, ok := find(top, func(b *widget.Button) bool { return b.Text == text })
	if !ok {
		t.Fatalf("dialog has no %q button", text)
	}
	return b
}

func emergency(id string) alert.Alert {
	return alert.Alert{ID: id, ChatID: "19:chat", WebURL: "https://teams.microsoft.com/l/message/19:chat/" + id,
		CallerName: "Adele Vance", Number: "911", Location: "Building 4, 2nd floor, room 212",
		Text: "Adele Vance has placed an Emergency Call to 911 <b>not bold</b>", CreatedAt: time.Date(2025, 3, 4, 14, 3, 0, 0, time.Local),
		ReceivedAt: time.Date(2025, 3, 4, 14, 3, 1, 0, time.Local), MonitoringUser: "desk@contoso.com", Source: alert.SourceLive,
		Raw: []byte(`{"id":"` + id + `","body":{"contentType":"html","content":"<p>x</p>"}}`)}
}

func testCall(id string) alert.Alert {
	a := emergency(id)
	a.Number, a.IsTest, a.CallerName = "933", true, "Megan Bowen"
	return a
}

func pngEqual(a, b fyne.Resource) bool {
	return a != nil && b != nil && bytes.Equal(a.Content(), b.Content())
}
