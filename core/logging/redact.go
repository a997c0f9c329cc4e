// Package logging sets up the app's log/slog output — a rotating file in
// the OS log location plus stderr — behind a redaction layer that strips
// every kind of secret the app handles (connection strings and SAS keys,
// client secrets, JWTs, refresh tokens, private keys) from messages and
// attributes before any handler sees them.
package logging

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Mask replaces redacted text.
const Mask = "[REDACTED]"

var patterns = []*regexp.Regexp{
	// PEM private keys, whole block.
	regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)`),
	// Connection-string and SAS secrets: SharedAccessKey=…, sig=…
	regexp.MustCompile(`(?i)(SharedAccessKey\s*=\s*)[^;"'\s]+`),
	regexp.MustCompile(`(?i)(SharedAccessSignature\s+)[^"'\s]+`),
	regexp.MustCompile(`(?i)([?&]sig=)[^&"'\s]+`),
	// JWTs (access and ID tokens).
	regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`),
	// Entra refresh tokens ("0.A…" / "1.A…").
	regexp.MustCompile(`\b[01]\.A[A-Za-z0-9_.\-*]{30,}`),
	// Entra client secrets (e.g. "abc8Q~…").
	regexp.MustCompile(`[A-Za-z0-9_.\-]{3}[0-9]Q~[A-Za-z0-9_.\-~]{20,40}`),
	// key=value and "key":"value" forms of token fields.
	regexp.MustCompile(`(?i)((?:access_token|refresh_token|id_token|client_secret|device_code|password|clientState|secret)["']?\s*[:=]\s*["']?)[^"'&;,\s}]+`),
}

var (
	knownMu sync.RWMutex
	known   []string
)

// AddSecret registers an exact value (loaded from the vault) to be masked
// wherever it appears, whatever its shape.
func AddSecret(v string) {
	if len(v) < 6 {
		return // too short to mask without mangling ordinary text
	}
	knownMu.Lock()
	defer knownMu.Unlock()
	if !slices.Contains(known, v) {
		known = append(known, v)
		// Longest first, so a secret containing another is masked whole.
		slices.SortFunc(known, func(a, b string) int { return len(b) - len(a) })
	}
}

// Redact masks every secret in s.
func Redact(s string) string {
	knownMu.RLock()
	for _, k := range known {
		if strings.Contains(s, k) {
			s = strings.ReplaceAll(s, k, Mask)
		}
	}
	knownMu.RUnlock()
	for _, re := range patterns {
		if re.NumSubexp() > 0 && strings.HasPrefix(re.String(), "(?i)(") {
			s = re.ReplaceAllString(s, "${1}"+Mask)
		} else {
			s = re.ReplaceAllString(s, Mask)
		}
	}
	return s
}

// Handler redacts records before passing them on.
type Handler struct{ next slog.Handler }

// NewHandler wraps next.
func NewHandler(next slog.Handler) *Handler { return &Handler{next: next} }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, nr)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = redactAttr(a)
	}
	return &Handler{next: h.next.WithAttrs(out)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler { return &Handler{next: h.next.WithGroup(name)} }

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, ga := range g {
			out[i] = redactAttr(ga)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Redact(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, Redact(x.String()))
		case []byte:
			return slog.String(a.Key, Redact(string(x)))
		default:
			return slog.String(a.Key, Redact(fmt.Sprintf("%+v", x)))
		}
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}
