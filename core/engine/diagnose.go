package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"emergencydesk/core/auth"
	"emergencydesk/core/config"
	"emergencydesk/core/diagnose"
	"emergencydesk/core/paths"
	"emergencydesk/core/secrets"
	"emergencydesk/core/store"
)

// Diagnose implements Desk: the "Test integration" run over the settings
// and parts this engine is running.
func (e *Engine) Diagnose(ctx context.Context) (Report, error) {
	r := e.DiagnoseReport(ctx, diagnose.Options{})
	out := Report{Started: r.Started, Duration: r.Duration}
	for _, c := range r.Checks {
		out.Checks = append(out.Checks, Check{ID: c.ID, Title: c.Title, Status: string(c.Status), Detail: c.Detail, Fix: c.Fix, Duration: c.Duration})
	}
	return out, nil
}

// DiagnoseReport runs diagnostics with options (the CLI uses it for
// --e2e and JSON output).
func (e *Engine) DiagnoseReport(ctx context.Context, o diagnose.Options) diagnose.Report {
	cfg := e.Config()
	deps := diagnose.Deps{
		Vault:       e.o.Vault,
		Offsets:     e.store,
		Logger:      e.log,
		ExplainAuth: explainAuth,
		SubscriptionProblem: func(u config.User) (string, string) {
			if c := e.GraphClients()[u.HomeAccountID]; c != nil {
				h := c.Health()
				return h.LastError, h.Fix
			}
			return "", ""
		},
	}
	if am := e.Auth(); am != nil {
		deps.Tokens = tokenProber{am}
	}
	return diagnose.Run(ctx, cfg, deps, o)
}

// explainAuth gives diagnostics core/auth's words for a sign-in failure.
func explainAuth(err error) (string, string) {
	x := auth.Explain(err)
	s := x.Summary
	if x.Code != 0 {
		s += fmt.Sprintf(" (AADSTS%d)", x.Code)
	}
	return s, x.Fix
}

// tokenProber adapts the identity manager to diagnostics.
type tokenProber struct{ am *auth.Manager }

func (p tokenProber) SilentToken(ctx context.Context, u config.User) (diagnose.TokenInfo, error) {
	tok, err := p.am.AccessToken(ctx, u.HomeAccountID, false)
	if err != nil {
		return diagnose.TokenInfo{}, err
	}
	info := diagnose.TokenInfo{AccessToken: tok}
	if h, ok := p.am.Health(u.HomeAccountID); ok {
		info.ExpiresOn, info.RefreshTokenIssued = h.AccessTokenExpiry, h.RefreshTokenIssued
	}
	// Graph access tokens are JWTs; the granted scopes are in "scp". The
	// token is only read here, never trusted for anything else.
	if claims, err := jwtClaims(tok); err == nil {
		info.Scopes = strings.Fields(claims.Scp)
		if info.ExpiresOn.IsZero() && claims.Exp > 0 {
			info.ExpiresOn = time.Unix(claims.Exp, 0)
		}
	}
	return info, nil
}

type claims struct {
	Scp string `json:"scp"`
	Exp int64  `json:"exp"`
}

func jwtClaims(tok string) (claims, error) {
	var c claims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, errors.New("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(b, &c)
}

// DiagnoseOffline runs diagnostics from settings and the vault alone, for
// `emergencydesk diagnose` while the desk app may be running: it reads the
// alert log without locking it and refreshes no token the running app
// also holds (MSAL serves cached access tokens silently).
func DiagnoseOffline(ctx context.Context, dirs paths.Dirs, vault *secrets.Vault, log *slog.Logger, o diagnose.Options) (diagnose.Report, error) {
	cfg, err := config.Load(dirs.ConfigFile())
	if err != nil {
		return diagnose.Report{}, err
	}
	deps := diagnose.Deps{Vault: vault, Logger: log,
		ExplainAuth: explainAuth}
	if st, err := store.OpenReadOnly(dirs.AlertDB()); err == nil {
		defer st.Close()
		deps.Offsets = st
	}
	if cfg.OAuth.ClientID != "" && len(cfg.Users) > 0 {
		var extra []byte
		if cfg.Cloud.ExtraCABundle != "" {
			extra, _ = os.ReadFile(cfg.Cloud.ExtraCABundle)
		}
		if am, err := auth.New(auth.Options{Config: cfg, Vault: vault, ExtraCAPEM: extra, Logger: log}, cfg.Users...); err == nil {
			deps.Tokens = tokenProber{am}
		}
	}
	return diagnose.Run(ctx, cfg, deps, o), nil
}
