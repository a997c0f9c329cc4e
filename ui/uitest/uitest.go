// Package uitest is the D-Bus side of the desktop for end-to-end tests: a
// StatusNotifierWatcher that records tray items, reads their icon and
// clicks their dbusmenu items, and a notification server that records
// Notify calls. Use it on a private session bus (dbus-run-session).
package uitest

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/png"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"
)

// Item is a registered StatusNotifierItem.
type Item struct {
	Service string // the sender's unique bus name
	Path    dbus.ObjectPath
}

// Watcher claims org.kde.StatusNotifierWatcher and records items.
type Watcher struct {
	conn  *dbus.Conn
	mu    sync.Mutex
	items []Item
}

// StartWatcher connects to the session bus and claims the watcher name.
func StartWatcher() (*Watcher, error) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return nil, fmt.Errorf("session bus: %w", err)
	}
	w := &Watcher{conn: conn}
	const path, iface = "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"
	if err := conn.Export(watcherMethods{w}, path, iface); err != nil {
		conn.Close()
		return nil, err
	}
	props := prop.Map{iface: {
		"IsStatusNotifierHostRegistered": {Value: true},
		"ProtocolVersion":                {Value: int32(0)},
		"RegisteredStatusNotifierItems":  {Value: []string{}},
	}}
	if _, err := prop.Export(conn, path, props); err != nil {
		conn.Close()
		return nil, err
	}
	conn.Export(introspect.Introspectable(`<node><interface name="`+iface+`"><method name="RegisterStatusNotifierItem"><arg type="s" direction="in"/></method><method name="RegisterStatusNotifierHost"><arg type="s" direction="in"/></method></interface></node>`), path, "org.freedesktop.DBus.Introspectable")
	reply, err := conn.RequestName(iface, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		conn.Close()
		return nil, fmt.Errorf("cannot own %s (reply %v): %v", iface, reply, err)
	}
	return w, nil
}

type watcherMethods struct{ w *Watcher }

func (m watcherMethods) RegisterStatusNotifierItem(sender dbus.Sender, serviceOrPath string) *dbus.Error {
	it := Item{Service: string(sender), Path: "/StatusNotifierItem"}
	if strings.HasPrefix(serviceOrPath, "/") {
		it.Path = dbus.ObjectPath(serviceOrPath)
	} else if serviceOrPath != "" {
		it.Service = serviceOrPath
	}
	m.w.mu.Lock()
	m.w.items = append(m.w.items, it)
	m.w.mu.Unlock()
	return nil
}

func (m watcherMethods) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// Close releases the bus connection.
func (w *Watcher) Close() error { return w.conn.Close() }

// Items returns the registered items.
func (w *Watcher) Items() []Item {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Item(nil), w.items...)
}

// WaitItem waits up to d for an item to register.
func (w *Watcher) WaitItem(d time.Duration) (Item, error) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if its := w.Items(); len(its) > 0 {
			return its[len(its)-1], nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return Item{}, errors.New("no StatusNotifierItem registered")
}

func (w *Watcher) prop(it Item, name string) (dbus.Variant, error) {
	return w.conn.Object(it.Service, it.Path).GetProperty("org.kde.StatusNotifierItem." + name)
}

// Pixmap is one IconPixmap entry: ARGB32 in network byte order.
type Pixmap struct {
	W, H int32
	Data []byte
}

// IconPixmap reads the item's icon.
func (w *Watcher) IconPixmap(it Item) ([]Pixmap, error) {
	v, err := w.prop(it, "IconPixmap")
	if err != nil {
		return nil, err
	}
	var px []Pixmap
	if err := dbus.Store([]any{v.Value()}, &px); err != nil {
		return nil, fmt.Errorf("IconPixmap: %w", err)
	}
	return px, nil
}

// Text reads a string property such as "Title" or "Status".
func (w *Watcher) Text(it Item, name string) (string, error) {
	v, err := w.prop(it, name)
	if err != nil {
		return "", err
	}
	s, _ := v.Value().(string)
	return s, nil
}

// ToARGB converts a PNG the way a tray item publishes it.
func ToARGB(png []byte) (Pixmap, error) {
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		return Pixmap{}, err
	}
	b := img.Bounds()
	out := Pixmap{W: int32(b.Dx()), H: int32(b.Dy()), Data: make([]byte, 0, b.Dx()*b.Dy()*4)}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			out.Data = append(out.Data, byte(a), byte(r), byte(g), byte(bl))
		}
	}
	return out, nil
}

// MatchIcon returns the name of the PNG in icons the item shows, or "".
func (w *Watcher) MatchIcon(it Item, icons map[string][]byte) (string, error) {
	px, err := w.IconPixmap(it)
	if err != nil {
		return "", err
	}
	for name, png := range icons {
		want, err := ToARGB(png)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		for _, p := range px {
			if p.W == want.W && p.H == want.H && bytes.Equal(p.Data, want.Data) {
				return name, nil
			}
		}
	}
	return "", nil
}

// MenuItem is one dbusmenu entry.
type MenuItem struct {
	ID       int32
	Label    string // mnemonic underscores removed
	Enabled  bool
	Children []MenuItem
}

type layout struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

func (w *Watcher) menuObj(it Item) (dbus.BusObject, error) {
	v, err := w.prop(it, "Menu")
	if err != nil {
		return nil, err
	}
	p, ok := v.Value().(dbus.ObjectPath)
	if !ok {
		return nil, fmt.Errorf("Menu property is %T", v.Value())
	}
	return w.conn.Object(it.Service, p), nil
}

// Menu reads the item's whole menu.
func (w *Watcher) Menu(it Item) ([]MenuItem, error) {
	o, err := w.menuObj(it)
	if err != nil {
		return nil, err
	}
	var rev uint32
	var root layout
	if err := o.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		return nil, fmt.Errorf("GetLayout: %w", err)
	}
	return convert(root.Children), nil
}

func convert(vs []dbus.Variant) []MenuItem {
	var out []MenuItem
	for _, v := range vs {
		var l layout
		if err := dbus.Store([]any{v.Value()}, &l); err != nil {
			continue
		}
		mi := MenuItem{ID: l.ID, Enabled: true, Children: convert(l.Children)}
		if s, ok := l.Props["label"].Value().(string); ok {
			mi.Label = strings.ReplaceAll(s, "_", "")
		}
		if e, ok := l.Props["enabled"].Value().(bool); ok {
			mi.Enabled = e
		}
		out = append(out, mi)
	}
	return out
}

// FindLabel finds the first item (depth first) whose label starts with prefix.
func FindLabel(items []MenuItem, prefix string) (MenuItem, bool) {
	for _, m := range items {
		if strings.HasPrefix(m.Label, prefix) {
			return m, true
		}
		if c, ok := FindLabel(m.Children, prefix); ok {
			return c, true
		}
	}
	return MenuItem{}, false
}

// Click sends a "clicked" event to the menu item whose label starts with prefix.
func (w *Watcher) Click(it Item, prefix string) error {
	items, err := w.Menu(it)
	if err != nil {
		return err
	}
	m, ok := FindLabel(items, prefix)
	if !ok {
		return fmt.Errorf("no menu item labelled %q", prefix)
	}
	o, err := w.menuObj(it)
	if err != nil {
		return err
	}
	return o.Call("com.canonical.dbusmenu.Event", 0, m.ID, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err
}
