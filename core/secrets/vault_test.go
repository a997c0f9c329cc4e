package secrets_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"emergencydesk/core/secrets"
	"emergencydesk/core/secrets/secretstest"
)

func TestRoundTripOnRealKeyring(t *testing.T) {
	v := secretstest.Vault(t)
	if _, err := v.Get(secrets.ClientSecret); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("missing secret: got %v, want ErrNotFound", err)
	}
	if err := v.Set(secrets.ClientSecret, "s3cr3t~value"); err != nil {
		t.Fatal(err)
	}
	got, err := v.Get(secrets.ClientSecret)
	if err != nil || got != "s3cr3t~value" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if err := v.Delete(secrets.ClientSecret); err != nil {
		t.Fatal(err)
	}
	if v.Has(secrets.ClientSecret) {
		t.Fatal("secret still there after Delete")
	}
	if err := v.Delete(secrets.ClientSecret); err != nil {
		t.Fatalf("deleting a missing secret: %v", err)
	}
}

func TestLargeValueIsSealedNotPlain(t *testing.T) {
	v := secretstest.Vault(t)
	raw := make([]byte, 48*1024)
	rand.Read(raw)
	big := base64.StdEncoding.EncodeToString(raw) // 64 KiB
	if len(big) != 64*1024 {
		t.Fatalf("test value is %d bytes", len(big))
	}
	if err := v.Set(secrets.TokenCache, big); err != nil {
		t.Fatal(err)
	}
	got, err := v.Get(secrets.TokenCache)
	if err != nil || got != big {
		t.Fatalf("64 KiB round trip failed: len %d, %v", len(got), err)
	}
	// Nothing on disk may hold the value in the clear.
	files, _ := filepath.Glob(filepath.Join(v.Dir(), "*"))
	if len(files) != 1 {
		t.Fatalf("want one sealed file, got %v", files)
	}
	data, _ := os.ReadFile(files[0])
	if strings.Contains(string(data), big[:64]) {
		t.Fatal("sealed file holds plaintext")
	}
	if st, _ := os.Stat(files[0]); st.Mode().Perm() != 0o600 {
		t.Fatalf("sealed file mode %v", st.Mode().Perm())
	}
	// Replacing removes the old file; shrinking goes back inline.
	if err := v.Set(secrets.TokenCache, big[:3000]); err != nil {
		t.Fatal(err)
	}
	files2, _ := filepath.Glob(filepath.Join(v.Dir(), "*"))
	if len(files2) != 1 || files2[0] == files[0] {
		t.Fatalf("old sealed file not replaced: %v -> %v", files, files2)
	}
	if err := v.Set(secrets.TokenCache, "small"); err != nil {
		t.Fatal(err)
	}
	if files3, _ := filepath.Glob(filepath.Join(v.Dir(), "*")); len(files3) != 0 {
		t.Fatalf("sealed file left behind: %v", files3)
	}
	// A tampered sealed file is reported, not returned.
	v.Set(secrets.TokenCache, big)
	files4, _ := filepath.Glob(filepath.Join(v.Dir(), "*"))
	data, _ = os.ReadFile(files4[0])
	data[len(data)-1] ^= 1
	os.WriteFile(files4[0], data, 0o600)
	if _, err := v.Get(secrets.TokenCache); err == nil || !strings.Contains(err.Error(), "integrity") {
		t.Fatalf("tampered file: %v", err)
	}
}

type brokenKeyring struct{ err error }

func (b brokenKeyring) Get(string, string) (string, error) { return "", b.err }
func (b brokenKeyring) Set(string, string, string) error   { return b.err }
func (b brokenKeyring) Delete(string, string) error        { return b.err }

func TestUnavailableKeyringIsAClearErrorNeverPlaintext(t *testing.T) {
	dir := t.TempDir()
	_, err := secrets.OpenWith(brokenKeyring{errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'")}, "svc", dir)
	if !errors.Is(err, secrets.ErrUnavailable) || !strings.Contains(err.Error(), "keyring") || !strings.Contains(err.Error(), "unlock") {
		t.Fatalf("want a clear unavailable error, got %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("vault wrote files without a keyring: %v", entries)
	}
}

func TestNoSecretServiceOnTheBus(t *testing.T) {
	// A session bus address with nothing behind it: the real go-keyring
	// path must fail with ErrUnavailable rather than fall back to anything.
	// godbus keeps one session connection per process, so this runs in a
	// fresh child process.
	if os.Getenv("VAULT_NOBUS_CHILD") == "1" {
		_, err := secrets.Open("emergencydesk-test-nobus", t.TempDir())
		if !errors.Is(err, secrets.ErrUnavailable) {
			t.Fatalf("want ErrUnavailable, got %v", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoSecretServiceOnTheBus$", "-test.v")
	cmd.Env = append(os.Environ(), "VAULT_NOBUS_CHILD=1", "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
