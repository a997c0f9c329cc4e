package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/zalando/go-keyring"
)

// Well-known secret names.
const (
	ClientSecret     = "oauth.client_secret"
	ConnectionString = "eventhub.connection_string"
	TokenCache       = "auth.token_cache"
)

// ClientStateName is the vault name of a monitoring user's subscription
// clientState.
func ClientStateName(userID string) string { return "graph.client_state." + userID }

// Names lists the names `emergencydesk secret set` accepts, with what each is.
var Names = map[string]string{
	"client-secret":     ClientSecret,
	"connection-string": ConnectionString,
}

var (
	// ErrNotFound means the vault holds no value under that name.
	ErrNotFound = errors.New("secret not found in the vault")
	// ErrUnavailable means the OS keyring cannot be used.
	ErrUnavailable = errors.New("the OS keyring is unavailable or locked")
)

// Backend is the keyring the vault stores entries in. go-keyring satisfies
// it; tests may pass a failing one.
type Backend interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

type goKeyring struct{}

func (goKeyring) Get(s, u string) (string, error) { return keyring.Get(s, u) }
func (goKeyring) Set(s, u, p string) error        { return keyring.Set(s, u, p) }
func (goKeyring) Delete(s, u string) error        { return keyring.Delete(s, u) }

// inlineMax is the largest value stored directly in a keyring entry; it
// stays under Windows' 2,560-byte and macOS' ~3 KB limits with headroom for
// the prefix.
const inlineMax = 2000

const (
	inlinePrefix = "v1:inline:"
	sealedPrefix = "v1:sealed:" // v1:sealed:<file id>:<base64 key>
)

// Vault stores named secrets.
type Vault struct {
	service string
	dir     string
	kr      Backend
	mu      sync.Mutex
}

// Open returns a vault storing keyring entries under service and sealed
// files under dir. It checks that the keyring answers.
func Open(service, dir string) (*Vault, error) {
	return OpenWith(goKeyring{}, service, dir)
}

// OpenWith is Open with an explicit keyring backend.
func OpenWith(kr Backend, service, dir string) (*Vault, error) {
	v := &Vault{service: service, dir: dir, kr: kr}
	if _, err := kr.Get(service, "vault.probe"); err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return nil, unavailable(err)
	}
	return v, nil
}

// Dir is where sealed values are kept.
func (v *Vault) Dir() string { return v.dir }

// Get returns the value stored under name, or ErrNotFound.
func (v *Vault) Get(name string) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.get(name)
}

func (v *Vault) get(name string) (string, error) {
	entry, err := v.kr.Get(v.service, name)
	if errors.Is(err, keyring.ErrNotFound) {
		return "", fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if err != nil {
		return "", unavailable(err)
	}
	switch {
	case strings.HasPrefix(entry, inlinePrefix):
		return entry[len(inlinePrefix):], nil
	case strings.HasPrefix(entry, sealedPrefix):
		id, key, err := parseSealed(entry)
		if err != nil {
			return "", fmt.Errorf("vault entry %s is damaged: %w", name, err)
		}
		return v.open(name, id, key)
	default:
		// A value written by hand (e.g. with secret-tool) is taken as is.
		return entry, nil
	}
}

// Set stores value under name, replacing any previous value.
func (v *Vault) Set(name, value string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	old, _ := v.kr.Get(v.service, name)
	var entry string
	if len(value) <= inlineMax {
		entry = inlinePrefix + value
	} else {
		id, key, err := v.seal(name, value)
		if err != nil {
			return err
		}
		entry = sealedPrefix + id + ":" + base64.StdEncoding.EncodeToString(key)
	}
	if err := v.kr.Set(v.service, name, entry); err != nil {
		if strings.HasPrefix(entry, sealedPrefix) {
			id, _, _ := parseSealed(entry)
			os.Remove(v.file(id))
		}
		return unavailable(err)
	}
	v.removeOld(old, entry)
	return nil
}

// Delete removes name; deleting a missing name is not an error.
func (v *Vault) Delete(name string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	old, err := v.kr.Get(v.service, name)
	if errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	if err != nil {
		return unavailable(err)
	}
	if err := v.kr.Delete(v.service, name); err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return unavailable(err)
	}
	v.removeOld(old, "")
	return nil
}

// Has reports whether name holds a value (errors count as "no").
func (v *Vault) Has(name string) bool {
	_, err := v.Get(name)
	return err == nil
}

func (v *Vault) removeOld(old, current string) {
	if old == current || !strings.HasPrefix(old, sealedPrefix) {
		return
	}
	if id, _, err := parseSealed(old); err == nil {
		os.Remove(v.file(id))
	}
}

func (v *Vault) file(id string) string { return filepath.Join(v.dir, id+".sealed") }

func (v *Vault) seal(name, value string) (id string, key []byte, err error) {
	if v.dir == "" {
		return "", nil, errors.New("vault: no directory configured for values over 2000 bytes")
	}
	if err := os.MkdirAll(v.dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("vault: create %s: %w", v.dir, err)
	}
	key = make([]byte, 32)
	idb := make([]byte, 12)
	nonce := make([]byte, 12)
	for _, b := range [][]byte{key, idb, nonce} {
		if _, err := rand.Read(b); err != nil {
			return "", nil, err
		}
	}
	id = hex.EncodeToString(idb)
	gcm, err := newGCM(key)
	if err != nil {
		return "", nil, err
	}
	data := gcm.Seal(append([]byte(nil), nonce...), nonce, []byte(value), []byte(name))
	if err := writeFileAtomic(v.file(id), data); err != nil {
		return "", nil, fmt.Errorf("vault: write sealed value: %w", err)
	}
	return id, key, nil
}

func (v *Vault) open(name, id string, key []byte) (string, error) {
	data, err := os.ReadFile(v.file(id))
	if err != nil {
		return "", fmt.Errorf("vault: sealed value for %s is missing (%s): %w", name, v.file(id), err)
	}
	gcm, err := newGCM(key)
	if err != nil {
		return "", err
	}
	if len(data) < gcm.NonceSize() {
		return "", fmt.Errorf("vault: sealed value for %s is truncated (%s)", name, v.file(id))
	}
	plain, err := gcm.Open(nil, data[:gcm.NonceSize()], data[gcm.NonceSize():], []byte(name))
	if err != nil {
		return "", fmt.Errorf("vault: sealed value for %s failed its integrity check (%s); set it again", name, v.file(id))
	}
	return string(plain), nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func parseSealed(entry string) (string, []byte, error) {
	rest := strings.TrimPrefix(entry, sealedPrefix)
	id, k, ok := strings.Cut(rest, ":")
	if !ok || id == "" {
		return "", nil, errors.New("bad sealed entry")
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", nil, errors.New("bad sealed file id")
	}
	key, err := base64.StdEncoding.DecodeString(k)
	if err != nil || len(key) != 32 {
		return "", nil, errors.New("bad sealed key")
	}
	return id, key, nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// unavailable wraps a keyring failure in a message that tells the user what
// to do, without the value (go-keyring errors never carry it).
func unavailable(err error) error {
	return fmt.Errorf("%w (%v): on Linux start and unlock a Secret Service such as gnome-keyring or KWallet; on Windows and macOS sign in to the desktop session", ErrUnavailable, err)
}
