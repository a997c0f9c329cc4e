package graph

import (
	"context"
	"errors"
	"testing"

	"emergencydesk/core/secrets"
	"emergencydesk/core/secrets/secretstest"
)

// TestRealKeyring keeps clientState, state and the RSA key (a sealed,
// over-2,000-byte value) in the real Secret Service.
func TestRealKeyring(t *testing.T) {
	v := secretstest.Vault(t)
	e := newEnv(t, true)
	ctx := context.Background()
	o := e.options(true)
	o.Vault = v
	c := e.client(t, o)
	if err := c.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	_, msgID, _ := e.emu.PostEmergencyCall(alex, "911", "Lobby")
	n := e.pub.last(t)
	restarted := e.client(t, o)
	m, err := restarted.Resolve(ctx, n)
	if err != nil || m.ID != msgID {
		t.Fatalf("resolve after restart with keyring state: %v", err)
	}
	if e.emu.Requests("GET /v1.0/chats/") != 0 {
		t.Fatal("decryption fell back to fetching")
	}
	if err := restarted.Ensure(ctx); err != nil || restarted.SubscriptionID() != c.SubscriptionID() {
		t.Fatalf("restart did not keep the subscription: %v", err)
	}
	if err := restarted.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{secrets.ClientStateName(desk.ID), CertName(desk.ID), StateName(desk.ID)} {
		if _, err := v.Get(name); !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("%s still in the vault: %v", name, err)
		}
	}
}
