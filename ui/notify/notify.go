// Package notify sends the desktop notification for an alert through beeep
// (org.freedesktop.Notifications on Linux) without ever blocking the caller.
package notify

import (
	"log/slog"
	"sync"

	"github.com/gen2brain/beeep"
)

// Notifier sends notifications on its own goroutine.
type Notifier struct {
	log    *slog.Logger
	icon   []byte
	warned sync.Once
	send   func(title, body string, icon any) error
}

// New sets beeep's app name (the D-Bus app name / Windows AppID) and
// returns a notifier using icon (PNG bytes, may be nil). log may be nil.
func New(appName string, icon []byte, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.Default()
	}
	beeep.AppName = appName
	return &Notifier{log: log, icon: icon, send: beeep.Alert}
}

// Alert shows a critical notification; a failure (no notification server)
// is logged once: the alert window and tray still show the alarm.
func (n *Notifier) Alert(title, body string) {
	var icon any
	if n.icon != nil {
		icon = n.icon
	} else {
		icon = ""
	}
	go func() {
		if err := n.send(title, body, icon); err != nil {
			n.warned.Do(func() {
				n.log.Warn("desktop notification failed; the alert window still shows alerts", "err", err)
			})
		}
	}()
}
