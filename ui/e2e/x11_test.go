package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"emergencydesk/assets"
)

// trayIcons are the tray's PNGs by state name, for uitest.MatchIcon.
var trayIcons = map[string][]byte{
	"unconfigured": assets.TrayUnconfigured,
	"healthy":      assets.TrayHealthy,
	"degraded":     assets.TrayDegraded,
	"broken":       assets.TrayBroken,
	"alerting":     assets.TrayAlerting,
	"alerting-dim": assets.TrayAlertingDim,
}

// xwin is a top-level X window as xwininfo reports it.
type xwin struct {
	ID         string
	Title      string
	X, Y, W, H int
}

// xwininfo -root -tree line: `0x200026 "Title": ("res" "class")  1100x720+0+0  +0+0`
var treeLine = regexp.MustCompile(`^\s*(0x[0-9a-f]+) "(.*)": \(.*\)\s+(\d+)x(\d+)\+(-?\d+)\+(-?\d+)`)

// windows lists the named windows under the root.
func windows() ([]xwin, error) {
	cmd := exec.Command("xwininfo", "-root", "-tree")
	// Titles are UTF-8 ("EMERGENCY CALL — …"); C.UTF-8 exists everywhere,
	// while the session's LANG (en_US.UTF-8) may not be generated.
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("xwininfo -root -tree: %w", err)
	}
	var ws []xwin
	for _, l := range strings.Split(string(out), "\n") {
		m := treeLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
		ws = append(ws, xwin{ID: m[1], Title: m[2], W: n(3), H: n(4), X: n(5), Y: n(6)})
	}
	return ws, nil
}

// xprop returns one property of a window as xprop prints it.
func xprop(id, prop string) string {
	out, err := exec.Command("xprop", "-id", id, prop).CombinedOutput()
	if err != nil {
		return err.Error() + ": " + string(out)
	}
	return strings.TrimSpace(string(out))
}

// viewable says whether the window is mapped and on screen.
func viewable(id string) bool {
	out, err := exec.Command("xwininfo", "-id", id).Output()
	return err == nil && strings.Contains(string(out), "Map State: IsViewable")
}

// findWindow returns a viewable window whose title contains all of parts.
func findWindow(parts ...string) (xwin, bool) {
	ws, err := windows()
	if err != nil {
		return xwin{}, false
	}
next:
	for _, w := range ws {
		for _, p := range parts {
			if !strings.Contains(w.Title, p) {
				continue next
			}
		}
		if viewable(w.ID) {
			return w, true
		}
	}
	return xwin{}, false
}

// titles lists every window title (for failure messages).
func titles() string {
	ws, err := windows()
	if err != nil {
		return err.Error()
	}
	var s []string
	for _, w := range ws {
		v := "hidden"
		if viewable(w.ID) {
			v = "shown"
		}
		s = append(s, fmt.Sprintf("%q %dx%d+%d+%d %s", w.Title, w.W, w.H, w.X, w.Y, v))
	}
	return strings.Join(s, "; ")
}

// xdo runs xdotool.
func xdo(args ...string) error {
	out, err := exec.Command("xdotool", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("xdotool %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// focus gives w the keyboard focus (there is no window manager under Xvfb,
// so raise and set the input focus directly).
func focus(w xwin) error {
	if err := xdo("windowraise", w.ID); err != nil {
		return err
	}
	if err := xdo("windowfocus", w.ID); err != nil {
		return err
	}
	time.Sleep(150 * time.Millisecond)
	return nil
}

// screenshot saves the whole screen as a PNG.
func screenshot(path string) error {
	out, err := exec.Command("import", "-window", "root", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("import -window root %s: %v: %s", path, err, out)
	}
	return nil
}

// ackTopCard acknowledges the newest alert in the alert window with the
// keyboard, as an operator without a mouse would: Tab to its comment
// field, type comment, Tab past "Open chat in Teams" to Acknowledge, and
// press space.
func ackTopCard(win xwin, comment string) error {
	if err := focus(win); err != nil {
		return err
	}
	if err := xdo("key", "Tab"); err != nil {
		return err
	}
	if comment != "" {
		if err := xdo("type", "--delay", "5", comment); err != nil {
			return err
		}
	}
	return xdo("key", "Tab", "Tab", "space")
}

// crop saves the part of the screen under w as a PNG.
func crop(w xwin, path string) error {
	geo := fmt.Sprintf("%dx%d+%d+%d", w.W, w.H, w.X, w.Y)
	out, err := exec.Command("import", "-window", "root", "-crop", geo, "+repage", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("import -crop %s %s: %v: %s", geo, path, err, out)
	}
	return nil
}
