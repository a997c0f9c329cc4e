package graph

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"emergencydesk/core/msgraph"
	"emergencydesk/core/secrets"
)

// CertKeyBits is the size of the generated encryption key.
const CertKeyBits = 3072

// CertName is the vault name of a user's rich-notification keys.
func CertName(userID string) string { return "graph.encryption_key." + userID }

// Errors of Decrypt; each makes Resolve fall back to fetching.
var (
	ErrUnknownCert = errors.New("graph: rich notification encrypted for an unknown certificate")
	ErrSignature   = errors.New("graph: rich notification signature does not match (tampered or corrupted)")
	ErrDecrypt     = errors.New("graph: rich notification cannot be decrypted")
)

type encKey struct {
	id         string
	der        []byte
	key        *rsa.PrivateKey
	notAfter   time.Time
	thumbprint string
}

type certSet struct{ current, previous *encKey }

type storedKey struct {
	ID       string    `json:"id"`
	Cert     string    `json:"cert"` // base64 DER
	Key      string    `json:"key"`  // PKCS#8 PEM
	NotAfter time.Time `json:"notAfter"`
}

type storedCerts struct {
	Current  *storedKey `json:"current,omitempty"`
	Previous *storedKey `json:"previous,omitempty"`
}

func newEncKey(now time.Time, validity time.Duration) (*encKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, CertKeyBits)
	if err != nil {
		return nil, err
	}
	idb := make([]byte, 8)
	rand.Read(idb)
	id := "emergencydesk-" + hex.EncodeToString(idb)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Emergency Desk rich notifications " + id},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return finishKey(id, der, key, tmpl.NotAfter), nil
}

func finishKey(id string, der []byte, key *rsa.PrivateKey, notAfter time.Time) *encKey {
	sum := sha1.Sum(der)
	key.Precompute()
	return &encKey{id: id, der: der, key: key, notAfter: notAfter, thumbprint: strings.ToUpper(hex.EncodeToString(sum[:]))}
}

func (k *encKey) store() *storedKey {
	p8, _ := x509.MarshalPKCS8PrivateKey(k.key)
	return &storedKey{ID: k.id, Cert: base64.StdEncoding.EncodeToString(k.der),
		Key: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})), NotAfter: k.notAfter}
}

func loadKey(s *storedKey) (*encKey, error) {
	if s == nil {
		return nil, nil
	}
	der, err := base64.StdEncoding.DecodeString(s.Cert)
	if err != nil {
		return nil, errors.New("certificate is not base64")
	}
	blk, _ := pem.Decode([]byte(s.Key))
	if blk == nil {
		return nil, errors.New("private key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, errors.New("private key cannot be parsed")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("private key is not RSA")
	}
	return finishKey(s.ID, der, rk, s.NotAfter), nil
}

// loadCertsLocked reads the keys from the vault once. c.mu held.
func (c *Client) loadCertsLocked() error {
	if c.certs != nil {
		return nil
	}
	c.certs = &certSet{}
	raw, err := c.o.Vault.Get(CertName(c.o.UserID))
	if errors.Is(err, secrets.ErrNotFound) {
		return nil
	}
	if err != nil {
		c.certs = nil
		return err
	}
	var sc storedCerts
	if err := json.Unmarshal([]byte(raw), &sc); err != nil {
		c.log.Warn("stored rich-notification keys are damaged; new ones will be made", "err", err)
		return nil
	}
	cur, err1 := loadKey(sc.Current)
	prev, err2 := loadKey(sc.Previous)
	if err1 != nil || err2 != nil {
		c.log.Warn("stored rich-notification key unreadable; new one will be made", "err", errors.Join(err1, err2))
	}
	c.certs.current, c.certs.previous = cur, prev
	return nil
}

// ensureCert returns the current encryption key, generating or rotating it
// when it is missing or within CertRotateBefore of expiry.
func (c *Client) ensureCert() (*encKey, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.loadCertsLocked(); err != nil {
		return nil, false, err
	}
	now := c.o.Clock.Now()
	if cur := c.certs.current; cur != nil && cur.notAfter.Sub(now) > c.o.CertRotateBefore {
		return cur, false, nil
	}
	k, err := newEncKey(now, c.o.CertValidity)
	if err != nil {
		return nil, false, fmt.Errorf("graph: generate encryption certificate: %w", err)
	}
	next := &certSet{current: k, previous: c.certs.current}
	sc := storedCerts{Current: k.store()}
	if next.previous != nil {
		sc.Previous = next.previous.store()
	}
	data, _ := json.Marshal(sc)
	if err := c.o.Vault.Set(CertName(c.o.UserID), string(data)); err != nil {
		return nil, false, fmt.Errorf("graph: store encryption key in the vault: %w", err)
	}
	c.certs = next
	c.log.Info("rich-notification certificate created", "certId", k.id, "notAfter", k.notAfter, "rotated", next.previous != nil)
	return k, next.previous != nil, nil
}

func (c *Client) keyFor(id string) *encKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loadCertsLocked() != nil {
		return nil
	}
	for _, k := range []*encKey{c.certs.current, c.certs.previous} {
		if k != nil && k.id == id {
			return k
		}
	}
	return nil
}

// Decrypt opens rich-notification content: RSA-OAEP (SHA-1) unwraps the
// key, HMAC-SHA256 over the ciphertext must match dataSignature, then
// AES-256-CBC with IV = key[:16] and PKCS7 padding gives the chatMessage.
func (c *Client) Decrypt(ec *msgraph.EncryptedContent) (*msgraph.ChatMessage, error) {
	if ec == nil {
		return nil, fmt.Errorf("%w: no encryptedContent", ErrDecrypt)
	}
	k := c.keyFor(ec.EncryptionCertificateID)
	if k == nil {
		return nil, fmt.Errorf("%w (id %q)", ErrUnknownCert, ec.EncryptionCertificateID)
	}
	if ec.EncryptionCertificateThumbprint != "" && !strings.EqualFold(ec.EncryptionCertificateThumbprint, k.thumbprint) {
		return nil, fmt.Errorf("%w (thumbprint does not match certificate %q)", ErrUnknownCert, k.id)
	}
	return decryptWith(k.key, ec)
}

func decryptWith(priv *rsa.PrivateKey, ec *msgraph.EncryptedContent) (*msgraph.ChatMessage, error) {
	wrapped, err := base64.StdEncoding.DecodeString(ec.DataKey)
	if err != nil {
		return nil, fmt.Errorf("%w: dataKey is not base64", ErrDecrypt)
	}
	data, err := base64.StdEncoding.DecodeString(ec.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: data is not base64", ErrDecrypt)
	}
	if ec.DataSignature == "" {
		// Without the signature the ciphertext is unauthenticated.
		return nil, fmt.Errorf("%w: dataSignature is missing", ErrSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(ec.DataSignature)
	if err != nil {
		return nil, fmt.Errorf("%w: dataSignature is not base64", ErrSignature)
	}
	key, err := rsa.DecryptOAEP(sha1.New(), nil, priv, wrapped, nil)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%w: the symmetric key cannot be unwrapped with this certificate", ErrDecrypt)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	if !hmac.Equal(mac.Sum(nil), sig) {
		return nil, ErrSignature
	}
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: data length %d is not a multiple of the AES block size", ErrDecrypt, len(data))
	}
	block, _ := aes.NewCipher(key)
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, key[:aes.BlockSize]).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > aes.BlockSize || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, fmt.Errorf("%w: bad padding", ErrDecrypt)
	}
	var m msgraph.ChatMessage
	if err := json.Unmarshal(plain[:len(plain)-pad], &m); err != nil {
		return nil, fmt.Errorf("%w: content is not a chatMessage: %v", ErrDecrypt, err)
	}
	return &m, nil
}
