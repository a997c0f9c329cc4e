//go:build linux && !wayland

package ontop

/*
#cgo LDFLAGS: -lX11
#include <stdlib.h>
#include <string.h>
#include <X11/Xlib.h>
#include <X11/Xatom.h>

static Display *dpy;

// An X error (a window that vanished) must never end the process: Xlib's
// default handler exits.
static int ignoreXError(Display *d, XErrorEvent *e) { return 0; }

static int hasEWMHManager(Window root) {
	Atom check = XInternAtom(dpy, "_NET_SUPPORTING_WM_CHECK", False);
	Atom type; int format; unsigned long n, after; unsigned char *data = NULL;
	int ok = XGetWindowProperty(dpy, root, check, 0, 1, False, XA_WINDOW, &type, &format, &n, &after, &data) == Success && n == 1;
	if (data) XFree(data);
	return ok;
}

static void clientMessage(Window root, Window win, Atom type, long a, long b, long c, long d) {
	XEvent ev;
	memset(&ev, 0, sizeof ev);
	ev.xclient.type = ClientMessage;
	ev.xclient.window = win;
	ev.xclient.message_type = type;
	ev.xclient.format = 32;
	ev.xclient.data.l[0] = a;
	ev.xclient.data.l[1] = b;
	ev.xclient.data.l[2] = c;
	ev.xclient.data.l[3] = d;
	XSendEvent(dpy, root, False, SubstructureRedirectMask | SubstructureNotifyMask, &ev);
}

static int pin(unsigned long win) {
	if (!dpy) {
		dpy = XOpenDisplay(NULL);
		if (!dpy) return -1;
		XSetErrorHandler(ignoreXError);
	}
	Window root = DefaultRootWindow(dpy);
	Atom state = XInternAtom(dpy, "_NET_WM_STATE", False);
	Atom above = XInternAtom(dpy, "_NET_WM_STATE_ABOVE", False);
	Atom sticky = XInternAtom(dpy, "_NET_WM_STATE_STICKY", False);
	Atom desktop = XInternAtom(dpy, "_NET_WM_DESKTOP", False);
	if (hasEWMHManager(root)) {
		// A managed window's state is the window manager's to change:
		// ask it (1 = _NET_WM_STATE_ADD, source 1 = application).
		clientMessage(root, win, state, 1, above, sticky, 1);
		clientMessage(root, win, desktop, 0xFFFFFFFF, 1, 0, 0);
	} else {
		// No window manager (kiosk, test display): the properties are the
		// record a manager started later will honour.
		Atom vals[2] = {above, sticky};
		XChangeProperty(dpy, win, state, XA_ATOM, 32, PropModeReplace, (unsigned char *)vals, 2);
		long all = 0xFFFFFFFF;
		XChangeProperty(dpy, win, desktop, XA_CARDINAL, 32, PropModeReplace, (unsigned char *)&all, 1);
		XRaiseWindow(dpy, win);
	}
	XFlush(dpy);
	return 0;
}
*/
import "C"

import "errors"

func pinX11(win uintptr) error {
	if win == 0 {
		return ErrNotYet
	}
	if C.pin(C.ulong(win)) != 0 {
		return errors.New("ontop: cannot open the X display")
	}
	return nil
}

func pinWindows(uintptr) error { return nil }
