//go:build linux && !wayland

package uitest

/*
#cgo LDFLAGS: -lX11
#include <string.h>
#include <X11/Xlib.h>

static int ignoreErr(Display *d, XErrorEvent *e) { return 0; }

// closeWindow does what a window manager does when the user clicks a
// window's close button: send WM_DELETE_WINDOW through WM_PROTOCOLS.
static int closeWindow(unsigned long win) {
	Display *dpy = XOpenDisplay(NULL);
	if (!dpy) return -1;
	XSetErrorHandler(ignoreErr);
	XEvent ev;
	memset(&ev, 0, sizeof ev);
	ev.xclient.type = ClientMessage;
	ev.xclient.window = win;
	ev.xclient.message_type = XInternAtom(dpy, "WM_PROTOCOLS", False);
	ev.xclient.format = 32;
	ev.xclient.data.l[0] = XInternAtom(dpy, "WM_DELETE_WINDOW", False);
	ev.xclient.data.l[1] = CurrentTime;
	XSendEvent(dpy, win, False, NoEventMask, &ev);
	XSync(dpy, False);
	XCloseDisplay(dpy);
	return 0;
}
*/
import "C"

import (
	"errors"
	"strconv"
	"strings"
)

// CloseWindow asks the X window id (as xwininfo prints it, e.g. 0x200026)
// to close, exactly as a window manager's close button does. Under Xvfb
// there is no window manager to do it.
func CloseWindow(id string) error {
	n, err := strconv.ParseUint(strings.TrimPrefix(id, "0x"), 16, 64)
	if err != nil {
		return err
	}
	if C.closeWindow(C.ulong(n)) != 0 {
		return errors.New("uitest: cannot open the X display")
	}
	return nil
}
