package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"emergencydesk/core/config"
	"emergencydesk/core/msemu"
	"emergencydesk/core/paths"
	"emergencydesk/core/secrets"
	"emergencydesk/core/secrets/secretstest"
	"emergencydesk/core/store"
)

var (
	buildMu  sync.Mutex
	binPaths = map[string]string{}
)

// desktopBinary builds the real emergencydesk binary once per test run.
func desktopBinary(t testing.TB) string { return buildBinary(t, "migrated_fynedo") }

// buildBinary builds the binary with the given build tags, once per tags.
func buildBinary(t testing.TB, tags string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := binPaths[tags]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "emergencydesk-bin-")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "emergencydesk")
	if out, err := exec.Command("go", "build", "-tags", tags, "-o", p, ".").CombinedOutput(); err != nil {
		t.Fatalf("build -tags %s: %v\n%s", tags, err, out)
	}
	binPaths[tags] = p
	return p
}

// watchProc is a running `emergencydesk watch`.
type watchProc struct {
	t     testing.TB
	cmd   *exec.Cmd
	lines chan line
	logf  *os.File
}

func startWatch(t testing.TB, home string) *watchProc {
	t.Helper()
	return startWatchBin(t, desktopBinary(t), home)
}

func startWatchBin(t testing.TB, bin, home string) *watchProc {
	t.Helper()
	logf, err := os.CreateTemp(t.TempDir(), "watch-stderr-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "watch")
	cmd.Env = append(os.Environ(), paths.HomeEnv+"="+home)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &watchProc{t: t, cmd: cmd, lines: make(chan line, 1000), logf: logf}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("watch printed a line that is not JSON: %q", sc.Text())
				continue
			}
			w.lines <- l
		}
		close(w.lines)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return w
}

func (w *watchProc) stderr() string {
	b, _ := os.ReadFile(w.logf.Name())
	return string(b)
}

// await returns the first line matching, failing after d.
func (w *watchProc) await(what string, d time.Duration, match func(line) bool) line {
	w.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				w.t.Fatalf("watch exited while waiting for %s; stderr:\n%s", what, w.stderr())
			}
			if match(l) {
				return l
			}
		case <-deadline:
			w.t.Fatalf("timed out waiting for %s; stderr:\n%s", what, w.stderr())
		}
	}
}

func (w *watchProc) healthy() {
	w.t.Helper()
	w.await("healthy chain", 30*time.Second, func(l line) bool {
		return l.Type == "health" && l.Health != nil && l.Health.Level.String() == "ok"
	})
}

func (w *watchProc) kill9() {
	w.cmd.Process.Signal(syscall.SIGKILL)
	w.cmd.Wait()
	for range w.lines {
	}
}

// emulatorDesk starts the emulator and writes a desk home (settings and
// vault, nothing else) pointing at it, as a deployment script would.
func emulatorDesk(tb testing.TB, tweak func(*config.Config)) (*msemu.Emulator, string, msemu.Settings) {
	tb.Helper()
	secretstest.Vault(tb)
	emu, err := msemu.Start(msemu.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(emu.Close)
	home := tb.TempDir()
	d := paths.Under(home)
	s, err := emu.Settings(config.Default(), d.Data)
	if err != nil {
		tb.Fatal(err)
	}
	if tweak != nil {
		tweak(&s.Config)
	}
	if err := config.Save(d.ConfigFile(), s.Config); err != nil {
		tb.Fatal(err)
	}
	v, err := secrets.Open(vaultService, d.VaultDir())
	if err != nil {
		tb.Fatal(err)
	}
	v.Delete(secrets.TokenCache)
	if err := v.Set(secrets.ConnectionString, s.ConnectionString); err != nil {
		tb.Fatal(err)
	}
	return emu, home, s
}

func isAlert(id string) func(line) bool {
	return func(l line) bool { return l.Type == "alert" && (id == "" || l.Alert.ID == id) }
}

// TestWatchBlackBox runs the real binary against the emulator configured
// only through settings and the vault: sign-in, a 911 call, a 933 call, an
// ordinary message, kill -9 mid-processing and after an alert, clean exit.
func TestWatchBlackBox(t *testing.T) {
	emu, home, s := emulatorDesk(t, func(c *config.Config) {
		c.Subscription.RichNotifications = false // so a slow Graph stalls processing below
	})
	d := paths.Under(home)

	w := startWatch(t, home)
	dc := w.await("device code prompt", 30*time.Second, func(l line) bool { return l.Type == "device_code" })
	if dc.Code.UserCode == "" || !strings.HasSuffix(dc.Code.VerificationURL, "/devicelogin") {
		t.Fatalf("device code line: %+v", dc.Code)
	}
	if err := emu.Approve(dc.Code.UserCode); err != nil {
		t.Fatal(err)
	}
	w.await("signed in", 30*time.Second, func(l line) bool { return l.Type == "signed_in" && l.User == emu.Desk.UPN })
	w.healthy()

	_, id911, err := emu.PostEmergencyCall(0, "911", "Building 2, Floor 3, 1 Main St")
	if err != nil {
		t.Fatal(err)
	}
	a := w.await("911 alert", 20*time.Second, isAlert("")).Alert
	if a.ID != id911 || a.Number != "911" || a.CallerName != "Alex Doe" || !strings.Contains(a.Location, "1 Main St") || a.IsTest || len(a.Raw) != 0 {
		t.Fatalf("911 alert: %+v", a)
	}
	if _, err := emu.PostOrdinaryMessage(context.Background(), 1, "<script>alert(1)</script>coffee?"); err != nil {
		t.Fatal(err)
	}
	_, id933, _ := emu.PostEmergencyCall(1, "933", "Lobby")
	b := w.await("933 alert", 20*time.Second, isAlert("")).Alert
	if b.ID != id933 || !b.IsTest {
		t.Fatalf("the ordinary message raised an alert, or 933 was not a test call: %+v", b)
	}

	// kill -9 after an alert was shown: after restart it is not shown again.
	w.kill9()
	w = startWatch(t, home)
	w.healthy()

	// kill -9 while a notification is being processed (Graph is slow, so
	// the message fetch is in flight): after restart it alerts exactly once.
	emu.Graph.SetLatency(3 * time.Second)
	_, idMid, _ := emu.PostEmergencyCall(0, "911", "Car park level 2")
	time.Sleep(700 * time.Millisecond)
	w.kill9()
	emu.Graph.SetLatency(0)
	w = startWatch(t, home)
	got := w.await("alert after crash", 30*time.Second, isAlert("")).Alert
	if got.ID != idMid {
		t.Fatalf("after restart the first alert is %s (%s), want the in-flight call %s", got.ID, got.Location, idMid)
	}
	_, idLast, _ := emu.PostEmergencyCall(1, "911", "Roof")
	last := w.await("final alert", 20*time.Second, isAlert("")).Alert
	if last.ID != idLast {
		t.Fatalf("an alert was shown twice: got %s (%s) before %s", last.ID, last.Location, idLast)
	}

	// SIGTERM: a clean exit.
	w.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch did not exit cleanly on SIGTERM: %v\n%s", err, w.stderr())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("watch did not exit within 15 s of SIGTERM")
	}

	// The log holds each call exactly once.
	st, err := store.OpenReadOnly(d.AlertDB())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.List(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, a := range all {
		seen[a.ID]++
	}
	for _, id := range []string{id911, id933, idMid, idLast} {
		if seen[id] != 1 {
			t.Errorf("alert %s is in the log %d times", id, seen[id])
		}
	}
	if len(all) != 4 {
		t.Errorf("alert log holds %d alerts, want 4", len(all))
	}
	if strings.Contains(w.stderr(), s.ConnectionString) {
		t.Error("the connection string reached the log")
	}
}
