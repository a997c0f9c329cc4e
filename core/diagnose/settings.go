package diagnose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"emergencydesk/core/config"
	"emergencydesk/core/graph"
	"emergencydesk/core/secrets"
)

// checkSettings runs config.Validate and checks the connection string in
// the vault against the settings.
func (r *runner) checkSettings(context.Context) Check {
	ps := r.cfg.Validate()
	raw, err := readSecret(r.deps.Vault, secrets.ConnectionString)
	switch {
	case errors.Is(err, secrets.ErrNotFound) || (err == nil && strings.TrimSpace(raw) == ""):
		ps = append(ps, config.Problem{Field: "eventHub.connectionString", Severity: config.Error,
			Message: "no Event Hub connection string is stored: copy \"Connection string–primary key\" of the event hub's shared access policy (Event Hubs → " + r.cfg.EventHub.Name + " → Shared access policies) into the Event Hub tab, or run `emergencydesk secret set connection-string`"})
	case errors.Is(err, secrets.ErrUnavailable):
		ps = append(ps, config.Problem{Field: "eventHub.connectionString", Severity: config.Error,
			Message: "the OS keyring is locked or unavailable, so the connection string cannot be read: unlock the keyring (log in to the desktop session) and run the test again"})
	case err != nil:
		ps = append(ps, config.Problem{Field: "eventHub.connectionString", Severity: config.Error,
			Message: "the connection string cannot be read from the vault: " + err.Error()})
	default:
		r.addSecret(raw)
		cs, cps := r.cfg.ValidateConnString(raw)
		if cs.Key != "" {
			r.addSecret(cs.Key)
		}
		ps = append(ps, cps...)
		if len(cps.Errors()) == 0 {
			r.cs, r.csOK = cs, true
		}
	}
	errs := ps.Errors()
	r.settingsOK = len(errs) == 0
	var detail, fix []string
	for _, p := range ps {
		detail = append(detail, fmt.Sprintf("%s %s: %s", map[config.Severity]string{config.Error: "error", config.Warning: "warning"}[p.Severity], p.Field, p.Message))
	}
	switch {
	case len(errs) > 0:
		fix = append(fix, "correct the settings listed (Settings window, or `emergencydesk config set <field> <value>`) and run the test again")
		return Check{Status: Fail, Detail: strings.Join(detail, "\n"), Fix: strings.Join(fix, "\n")}
	case len(ps) > 0:
		return Check{Status: Warn, Detail: strings.Join(detail, "\n"), Fix: "review the warnings; each says what stops working"}
	}
	d := fmt.Sprintf("all settings valid; namespace %s, event hub %q", r.cs.Host, r.cfg.EventHub.Name)
	return Check{Status: Pass, Detail: d}
}

// loadState reads the graph package's stored subscription state.
func loadState(v Vault, userID string) (graph.State, error) {
	var s graph.State
	if v == nil {
		return s, nil
	}
	raw, err := v.Get(graph.StateName(userID))
	if errors.Is(err, secrets.ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return graph.State{}, fmt.Errorf("the stored subscription state is damaged: %v", err)
	}
	return s, nil
}
