// Package ontop keeps a window above all others and on every workspace,
// which Fyne has no API for (fyne-io/fyne#1183). It uses the window's
// native handle: EWMH _NET_WM_STATE_ABOVE/STICKY on X11, HWND_TOPMOST on
// Windows; elsewhere it does nothing and the caller's RequestFocus, the
// flashing tray and the notification remain.
package ontop

import (
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver"
)

// ErrNotYet means the native window does not exist yet (Fyne creates it
// after Show returns): try again shortly.
var ErrNotYet = errors.New("ontop: the native window is not created yet")

// Pin asks the platform to keep w above other windows on every workspace.
// It must run on the Fyne main goroutine (inside fyne.Do), after Show.
func Pin(w fyne.Window) error {
	nw, ok := w.(driver.NativeWindow)
	if !ok {
		return nil // test driver or a platform without native windows
	}
	var err error
	nw.RunNative(func(ctx any) {
		switch c := ctx.(type) {
		case driver.X11WindowContext:
			err = pinX11(c.WindowHandle)
		case driver.WindowsWindowContext:
			err = pinWindows(c.HWND)
		}
	})
	return err
}
