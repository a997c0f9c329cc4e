// Package secretstest gives tests a vault on the real OS keyring (the
// Secret Service that `make test` starts on a private D-Bus), under a
// service name unique to the test so runs never collide.
package secretstest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"emergencydesk/core/secrets"
)

// RequireEnv, when "1", turns a missing keyring into a test failure
// instead of a skip. `make test` sets it, so CI never skips silently.
const RequireEnv = "EMERGENCYDESK_REQUIRE_KEYRING"

// Vault returns a vault on the real keyring, deleting its entries when the
// test ends.
func Vault(t testing.TB) *secrets.Vault {
	t.Helper()
	service := fmt.Sprintf("emergencydesk-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	v, err := secrets.Open(service, t.TempDir())
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("real keyring required but unavailable: %v", err)
		}
		t.Skipf("no unlocked Secret Service (run via `make test`): %v", err)
	}
	return v
}
