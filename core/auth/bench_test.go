package auth

import (
	"context"
	"testing"

	"emergencydesk/core/msemu/entra"
)

// BenchmarkAccessTokenSilent measures a cached silent acquisition (the
// Graph client's per-request path).
func BenchmarkAccessTokenSilent(b *testing.B) {
	e := newEnv(b, entra.Options{}, memVault())
	m := e.manager(b, Options{})
	acc := signIn(b, e, m, e.emu.Users()[0].UPN)
	ctx := context.Background()
	for b.Loop() {
		if _, err := m.AccessToken(ctx, acc.HomeAccountID, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAccessTokenRefresh measures a forced refresh over HTTPS against
// the emulator, cache persisted to the (in-memory) vault.
func BenchmarkAccessTokenRefresh(b *testing.B) {
	e := newEnv(b, entra.Options{}, memVault())
	m := e.manager(b, Options{})
	acc := signIn(b, e, m, e.emu.Users()[0].UPN)
	ctx := context.Background()
	for b.Loop() {
		if _, err := m.AccessToken(ctx, acc.HomeAccountID, true); err != nil {
			b.Fatal(err)
		}
	}
}
