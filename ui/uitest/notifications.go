package uitest

import (
	"fmt"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// Notification is one recorded Notify call.
type Notification struct {
	AppName, Summary, Body, Icon string
	Hints                        map[string]dbus.Variant
}

// Notifications claims org.freedesktop.Notifications and records calls.
type Notifications struct {
	conn *dbus.Conn
	mu   sync.Mutex
	got  []Notification
}

// StartNotifications connects to the session bus and claims the name.
func StartNotifications() (*Notifications, error) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return nil, fmt.Errorf("session bus: %w", err)
	}
	n := &Notifications{conn: conn}
	const path, name = "/org/freedesktop/Notifications", "org.freedesktop.Notifications"
	if err := conn.Export(notifyMethods{n}, path, name); err != nil {
		conn.Close()
		return nil, err
	}
	reply, err := conn.RequestName(name, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		conn.Close()
		return nil, fmt.Errorf("cannot own %s (reply %v): %v", name, reply, err)
	}
	return n, nil
}

type notifyMethods struct{ n *Notifications }

func (m notifyMethods) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	m.n.mu.Lock()
	defer m.n.mu.Unlock()
	m.n.got = append(m.n.got, Notification{AppName: app, Summary: summary, Body: body, Icon: icon, Hints: hints})
	return uint32(len(m.n.got)), nil
}

func (m notifyMethods) GetCapabilities() ([]string, *dbus.Error) {
	return []string{"body", "sound"}, nil
}

func (m notifyMethods) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "uitest", "emergencydesk", "1.0", "1.2", nil
}

func (m notifyMethods) CloseNotification(uint32) *dbus.Error { return nil }

// Got returns the notifications received so far.
func (n *Notifications) Got() []Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Notification(nil), n.got...)
}

// Wait waits up to d for at least count notifications.
func (n *Notifications) Wait(count int, d time.Duration) ([]Notification, error) {
	end := time.Now().Add(d)
	for {
		if g := n.Got(); len(g) >= count {
			return g, nil
		}
		if time.Now().After(end) {
			return n.Got(), fmt.Errorf("got %d notification(s), want %d", len(n.Got()), count)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close releases the bus connection.
func (n *Notifications) Close() error { return n.conn.Close() }
