// Package emutoken mints and checks the emulator's JWT-shaped access tokens,
// so the emulated Entra ID (which issues them) and the emulated Graph (which
// checks them) agree without sharing state. Tokens are HS256-signed with a
// per-emulator key: clients treat them as opaque, as they must with real
// Microsoft tokens.
package emutoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Claims are the claims the emulator puts in access tokens.
type Claims struct {
	Aud               string `json:"aud"`
	Iss               string `json:"iss"`
	Iat               int64  `json:"iat"`
	Nbf               int64  `json:"nbf"`
	Exp               int64  `json:"exp"`
	Oid               string `json:"oid"`
	Tid               string `json:"tid"`
	PreferredUsername string `json:"preferred_username"`
	Name              string `json:"name,omitempty"`
	Scp               string `json:"scp,omitempty"`
	AppID             string `json:"appid,omitempty"`
}

// Errors returned by Parse.
var (
	ErrMalformed = errors.New("emutoken: malformed token")
	ErrSignature = errors.New("emutoken: bad signature")
	ErrExpired   = errors.New("emutoken: token expired")
)

// Signer mints and verifies tokens with one key.
type Signer struct{ key []byte }

// NewSigner returns a signer using key.
func NewSigner(key []byte) *Signer { return &Signer{key: append([]byte(nil), key...)} }

var b64 = base64.RawURLEncoding

// Mint returns a signed token for c.
func (s *Signer) Mint(c Claims) string {
	head := b64.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256","kid":"emulator"}`))
	body, _ := json.Marshal(c)
	signing := head + "." + b64.EncodeToString(body)
	return signing + "." + b64.EncodeToString(s.sign(signing))
}

// Parse verifies tok's signature and expiry at now and returns its claims.
func (s *Signer) Parse(tok string, now time.Time) (Claims, error) {
	var c Claims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, ErrMalformed
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return c, ErrMalformed
	}
	if !hmac.Equal(sig, s.sign(parts[0]+"."+parts[1])) {
		return c, ErrSignature
	}
	body, err := b64.DecodeString(parts[1])
	if err != nil || json.Unmarshal(body, &c) != nil {
		return c, ErrMalformed
	}
	if now.Unix() >= c.Exp {
		return c, ErrExpired
	}
	return c, nil
}

// HasScope reports whether the space-separated scp claim contains scope
// (case-insensitive, as Entra treats scope names).
func (c Claims) HasScope(scope string) bool {
	for _, s := range strings.Fields(c.Scp) {
		if strings.EqualFold(s, scope) {
			return true
		}
	}
	return false
}

func (s *Signer) sign(msg string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
