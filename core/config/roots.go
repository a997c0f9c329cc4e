package config

import "crypto/x509"

// RootCAs returns the system roots plus the PEM certificates in extra (the
// Extra CA bundle: a TLS-inspecting proxy's root, or the emulator's CA).
// ok is false when extra is not empty yet holds no certificate; callers
// word that error for their own setting.
func RootCAs(extra []byte) (pool *x509.CertPool, ok bool) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if len(extra) > 0 && !pool.AppendCertsFromPEM(extra) {
		return pool, false
	}
	return pool, true
}
