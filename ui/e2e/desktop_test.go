package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"emergencydesk/core/paths"
	"emergencydesk/core/secrets/secretstest"
	"emergencydesk/ui/uitest"
)

// desktop is the shared test desktop: the binary, a private session bus
// (so the harness owns the watcher and notification names without racing
// other packages' tests on the outer bus), a Secret Service on it, and the
// harness's watcher and notification server.
type desktop struct {
	root, bin, bus string
	daemons        []*exec.Cmd
	keyring        bool
	conn           *dbus.Conn // the harness's own reads of tray properties
	w              *uitest.Watcher
	n              *uitest.Notifications
}

var (
	setupOnce sync.Once
	shared    *desktop
	setupErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.close()
	}
	os.Exit(code)
}

// required says a missing desktop is a failure (make test) rather than a skip.
func required() bool { return os.Getenv(secretstest.RequireEnv) == "1" }

// getDesktop returns the shared desktop, skipping (or failing under make
// test) when there is no display or session bus.
func getDesktop(tb testing.TB) *desktop {
	tb.Helper()
	var missing []string
	for _, v := range []string{"DISPLAY", "DBUS_SESSION_BUS_ADDRESS"} {
		if os.Getenv(v) == "" {
			missing = append(missing, v)
		}
	}
	for _, tool := range []string{"xwininfo", "xdotool", "dbus-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("the desktop end-to-end tests need %s: run them via `make test` (Xvfb, dbus-run-session; the Makefile installs x11-utils and xdotool)", strings.Join(missing, ", "))
		if required() {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	setupOnce.Do(func() { shared, setupErr = newDesktop() })
	if setupErr != nil {
		tb.Fatalf("set up the test desktop: %v", setupErr)
	}
	return shared
}

func newDesktop() (d *desktop, err error) {
	root, err := os.MkdirTemp("", "emergencydesk-e2e-")
	if err != nil {
		return nil, err
	}
	d = &desktop{root: root, bin: filepath.Join(root, "emergencydesk")}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	for _, dir := range []string{"home", "run"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o700); err != nil {
			return nil, err
		}
	}
	build := exec.Command("go", "build", "-tags", "migrated_fynedo", "-ldflags", "-X main.version=e2e", "-o", d.bin, "emergencydesk/app")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build emergencydesk/app: %v\n%s", err, out)
	}
	if err := d.startBus(); err != nil {
		return nil, err
	}
	if d.conn, err = dbus.Connect(d.bus); err != nil {
		return nil, err
	}
	if err := d.startKeyring(); err != nil {
		if required() {
			return nil, fmt.Errorf("real keyring required (%s=1): %w", secretstest.RequireEnv, err)
		}
		fmt.Fprintf(os.Stderr, "e2e: no keyring on the private bus (%v); demo keeps its secrets in memory\n", err)
	} else {
		d.keyring = true
	}
	// The harness names go on the bus before any app starts.
	if d.w, err = uitest.StartWatcher(); err != nil {
		return nil, err
	}
	if d.n, err = uitest.StartNotifications(); err != nil {
		return nil, err
	}
	return d, nil
}

// startBus runs a private session dbus-daemon and points this process
// (and every app it starts) at it.
func (d *desktop) startBus() error {
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dbus-daemon: %w", err)
	}
	d.daemons = append(d.daemons, cmd)
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case a := <-addr:
		if a == "" {
			return errors.New("dbus-daemon printed no address")
		}
		d.bus = a
	case <-time.After(10 * time.Second):
		return errors.New("dbus-daemon printed no address within 10 s")
	}
	return os.Setenv("DBUS_SESSION_BUS_ADDRESS", d.bus)
}

// startKeyring runs an unlocked gnome-keyring Secret Service on the bus.
func (d *desktop) startKeyring() error {
	if _, err := exec.LookPath("gnome-keyring-daemon"); err != nil {
		return err
	}
	cmd := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
	cmd.Env = d.env(filepath.Join(d.root, "home"))
	cmd.Stdin = strings.NewReader("emergencydesk")
	if err := cmd.Start(); err != nil {
		return err
	}
	d.daemons = append(d.daemons, cmd)
	conn, err := dbus.Connect(d.bus)
	if err != nil {
		return err
	}
	defer conn.Close()
	end := time.Now().Add(15 * time.Second)
	for time.Now().Before(end) {
		var has bool
		if conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.secrets").Store(&has) == nil && has {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("gnome-keyring-daemon did not claim org.freedesktop.secrets within 15 s")
}

// env is the environment for a child: the private bus, a throwaway HOME
// and runtime dir (so nothing touches the outer keyring or the user's
// files), and EMERGENCYDESK_HOME=deskHome.
func (d *desktop) env(deskHome string) []string {
	drop := map[string]bool{"DBUS_SESSION_BUS_ADDRESS": true, "HOME": true, "XDG_RUNTIME_DIR": true,
		"XDG_CONFIG_HOME": true, "XDG_DATA_HOME": true, "XDG_CACHE_HOME": true, paths.HomeEnv: true,
		"GNOME_KEYRING_CONTROL": true, "SSH_AUTH_SOCK": true}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			env = append(env, kv)
		}
	}
	if l := os.Getenv("LANG"); l == "" || l == "POSIX" || l == "C" || strings.HasPrefix(l, "C.") {
		env = append(env, "LANG=en_US.UTF-8") // Fyne cannot parse "C"
	}
	return append(env, "DBUS_SESSION_BUS_ADDRESS="+d.bus, "HOME="+filepath.Join(d.root, "home"),
		"XDG_RUNTIME_DIR="+filepath.Join(d.root, "run"), paths.HomeEnv+"="+deskHome)
}

func (d *desktop) close() {
	if d.conn != nil {
		d.conn.Close()
	}
	if d.w != nil {
		d.w.Close()
	}
	if d.n != nil {
		d.n.Close()
	}
	for i := len(d.daemons) - 1; i >= 0; i-- {
		c := d.daemons[i]
		c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			c.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(d.root)
}

// deskProc is one running emergencydesk.
type deskProc struct {
	d       *desktop
	cmd     *exec.Cmd
	home    string
	logPath string
	before  int // watcher items before this process started
	started time.Time
	done    chan struct{}
}

// start runs emergencydesk args with EMERGENCYDESK_HOME set to a fresh
// folder; the process is stopped when tb ends.
func (d *desktop) start(tb testing.TB, args ...string) *deskProc {
	tb.Helper()
	home, err := os.MkdirTemp(d.root, "desk-")
	if err != nil {
		tb.Fatal(err)
	}
	p := &deskProc{d: d, home: home, logPath: filepath.Join(home, "stderr.log"), done: make(chan struct{})}
	logf, err := os.Create(p.logPath)
	if err != nil {
		tb.Fatal(err)
	}
	p.cmd = exec.Command(d.bin, args...)
	p.cmd.Env = d.env(home)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.before = len(d.w.Items())
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		tb.Fatalf("start %s: %v", d.bin, err)
	}
	go func() {
		p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	tb.Cleanup(func() { p.stop(); os.RemoveAll(home) })
	return p
}

// stop ends the process: SIGTERM (the GUI quits cleanly), then SIGKILL.
func (p *deskProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *deskProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// log is the app's stdout+stderr so far, for failure messages.
func (p *deskProc) log() string {
	b, _ := os.ReadFile(p.logPath)
	const max = 20000
	if len(b) > max {
		b = append([]byte("…"), b[len(b)-max:]...)
	}
	return string(b)
}

// fatalf fails tb with the app's log and a screenshot attached.
func (p *deskProc) fatalf(tb testing.TB, format string, args ...any) {
	tb.Helper()
	shot := filepath.Join(os.TempDir(), fmt.Sprintf("emergencydesk-e2e-failure-%d.png", time.Now().UnixNano()))
	if err := screenshot(shot); err != nil {
		shot = err.Error()
	}
	tb.Fatalf("%s\nscreen: %s\n--- emergencydesk output (%s) ---\n%s", fmt.Sprintf(format, args...), shot, p.logPath, p.log())
}

// waitFor polls cond every interval until it is true, the process exits,
// or timeout passes.
func (p *deskProc) waitFor(timeout, interval time.Duration, cond func() bool) error {
	end := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("emergencydesk exited (%v)", p.cmd.ProcessState)
		}
		if time.Now().After(end) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(interval)
	}
}

// waitItem waits for this process's tray item.
func (p *deskProc) waitItem(timeout time.Duration) (uitest.Item, error) {
	var it uitest.Item
	err := p.waitFor(timeout, time.Millisecond, func() bool {
		if its := p.d.w.Items(); len(its) > p.before {
			it = its[len(its)-1]
			return true
		}
		return false
	})
	return it, err
}

// waitIcon waits until the tray shows one of want (names of trayIcons).
func (p *deskProc) waitIcon(it uitest.Item, timeout time.Duration, want ...string) (string, error) {
	var got string
	err := p.waitFor(timeout, 20*time.Millisecond, func() bool {
		got, _ = p.d.w.MatchIcon(it, trayIcons)
		for _, w := range want {
			if got == w {
				return true
			}
		}
		return false
	})
	if err != nil {
		return got, fmt.Errorf("tray icon is %q, want one of %q: %w", got, want, err)
	}
	return got, nil
}

// tooltip is the tray item's ToolTip text (the one-line reason).
func (d *desktop) tooltip(it uitest.Item) string {
	v, err := d.conn.Object(it.Service, it.Path).GetProperty("org.kde.StatusNotifierItem.ToolTip")
	if err != nil {
		return "(no tooltip: " + err.Error() + ")"
	}
	var tt struct {
		Icon          string
		Pixmap        []uitest.Pixmap
		Title, Detail string
	}
	if err := dbus.Store([]any{v.Value()}, &tt); err != nil {
		return fmt.Sprintf("%v", v.Value())
	}
	return strings.TrimSpace(tt.Title + " " + tt.Detail)
}

// ctx is a context bounded by timeout for one step.
func ctx(timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), timeout)
}
