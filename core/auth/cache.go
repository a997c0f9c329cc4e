package auth

import (
	"context"
	"errors"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"

	"emergencydesk/core/secrets"
)

// vaultCache persists MSAL's cache in the vault. MSAL calls Replace before
// every read and Export after every token response; the in-memory copy
// answers Replace (a keyring round trip per silent call would be slow), and
// Export writes through to the vault whenever the bytes changed, so a
// rotated refresh token is on disk before the caller sees the token.
type vaultCache struct {
	vault Vault
	mu    sync.Mutex
	data  []byte
	err   error // last write failure, reported to the caller of the token call
}

var _ cache.ExportReplace = (*vaultCache)(nil)

func (c *vaultCache) load() error {
	v, err := c.vault.Get(secrets.TokenCache)
	if errors.Is(err, secrets.ErrNotFound) {
		return nil
	}
	if err != nil {
		return &Error{Op: "load token cache", Explanation: Explanation{Summary: "The saved sign-ins could not be read from the OS keyring",
			Fix: "Unlock the OS keyring (on Linux start gnome-keyring or KWallet), then restart the app"}, Detail: redact(err.Error()), cause: err}
	}
	c.data = []byte(v)
	return nil
}

func (c *vaultCache) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.data) == 0 {
		return nil
	}
	return u.Unmarshal(c.data)
}

func (c *vaultCache) Export(ctx context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if string(b) == string(c.data) {
		c.err = nil
		return nil
	}
	if err := c.vault.Set(secrets.TokenCache, string(b)); err != nil {
		c.err = &Error{Op: "save token cache", Explanation: Explanation{Summary: "The new sign-in tokens could not be saved to the OS keyring",
			Fix: "Unlock the OS keyring; until then the sign-in lasts only while the app runs", Transient: true}, Detail: redact(err.Error()), cause: err}
		// Keep the new state in memory so this process goes on working.
		c.data = b
		return c.err
	}
	c.data, c.err = b, nil
	return nil
}

// lastErr reports (once) a persistence failure from the latest Export.
func (c *vaultCache) lastErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.err
	c.err = nil
	return err
}

// size is the persisted cache size in bytes.
func (c *vaultCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.data)
}
