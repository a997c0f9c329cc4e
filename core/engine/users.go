package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"emergencydesk/core/auth"
	"emergencydesk/core/config"
	"emergencydesk/core/eventhub"
	"emergencydesk/core/graph"
	"emergencydesk/core/health"
)

const timeFmt = "2006-01-02 15:04:05 MST"

func fmtT(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format(timeFmt)
}

func (e *Engine) onTokenHealth(h auth.Health) {
	key := "token/" + h.UserID
	if h.State == auth.SignedOut {
		e.board.Remove(key)
		e.publishUsers()
		return
	}
	lvl := health.OK
	switch h.State {
	case auth.ExpiringSoon, auth.RefreshFailing:
		lvl = health.Degraded
	case auth.ReauthRequired:
		lvl = health.Broken
	}
	c := health.Component{Key: key, Kind: "token", Label: "Sign-in " + h.UPN, Level: lvl, State: string(h.State),
		Summary: h.LastError,
		Details: map[string]string{
			"Access token expires": fmtT(h.AccessTokenExpiry),
			"Last refresh":         fmtT(h.LastRefresh),
			"Next refresh":         fmtT(h.NextRefresh),
			"Refresh token age":    h.RefreshTokenAge.Round(time.Minute).String(),
		}}
	if h.State == auth.ReauthRequired && c.Summary == "" {
		c.Summary = "re-authentication required"
	}
	if h.Explanation != nil {
		c.Fix = h.Explanation.Fix
	}
	e.board.Set(c)
	e.publishUsers()
}

func (e *Engine) onSubHealth(id string, u config.User, h graph.Health) {
	lvl := health.OK
	switch h.State {
	case graph.StateFailing:
		lvl = health.Degraded
		if !h.Expiration.IsZero() && time.Until(h.Expiration) < time.Hour {
			lvl = health.Broken
		}
	case graph.StateMissing:
		lvl = health.Broken
	}
	e.board.Set(health.Component{Key: "subscription/" + id, Kind: "subscription", Label: "Subscription " + u.UPN,
		Level: lvl, State: string(h.State), Summary: h.LastError, Fix: h.Fix,
		Details: map[string]string{
			"Subscription id": h.SubscriptionID,
			"Expires":         fmtT(h.Expiration),
			"Last renewal":    fmtT(h.LastRenewal),
		}})
	e.publishUsers()
}

func (e *Engine) onHubHealth(h eventhub.Health) {
	lvl := health.OK
	switch h.State {
	case eventhub.StateConnecting, eventhub.StateDegraded:
		lvl = health.Degraded
	case eventhub.StateFailed:
		lvl = health.Broken
	}
	c := health.Component{Key: "eventhub", Kind: "eventhub", Label: "Event Hub", Level: lvl, State: string(h.State),
		Summary: h.Problem.Summary, Fix: h.Problem.Fix,
		Details: map[string]string{"Last record": fmtT(h.LastRecord), "Mode": eventhub.ModeDescription()}}
	if lvl != health.OK && c.Summary == "" {
		c.Summary = h.Reason()
	}
	e.board.Set(c)
}

func (e *Engine) publishUsers() { e.bus.publish(UsersChanged{Users: e.Users()}) }

// Users implements Desk.
func (e *Engine) Users() []MonitoringUser {
	e.mu.Lock()
	users := slices.Clone(e.cfg.Users)
	e.mu.Unlock()
	comps := map[string]health.Component{}
	for _, c := range e.board.Overall().Components {
		comps[c.Key] = c
	}
	out := make([]MonitoringUser, 0, len(users))
	for _, u := range users {
		mu := MonitoringUser{ID: u.HomeAccountID, ObjectID: u.ObjectID, DisplayName: u.DisplayName, UPN: u.UPN,
			Token: comps["token/"+u.HomeAccountID], Subscription: comps["subscription/"+u.HomeAccountID]}
		if mu.Token.Key == "" {
			mu.Token = health.Component{Key: "token/" + u.HomeAccountID, Kind: "token", Label: "Sign-in " + u.UPN, State: "starting"}
		}
		if mu.Subscription.Key == "" {
			mu.Subscription = health.Component{Key: "subscription/" + u.HomeAccountID, Kind: "subscription", Label: "Subscription " + u.UPN, State: "starting"}
		}
		out = append(out, mu)
	}
	return out
}

// AddMonitoringUser implements Desk: a device-code sign-in in the
// background; DeviceCodeNeeded then SignInFinished are published.
func (e *Engine) AddMonitoringUser(ctx context.Context) error {
	e.mu.Lock()
	am := e.auth
	if am == nil {
		e.mu.Unlock()
		return errors.New("finish Settings first: Client ID, Tenant ID and the Event Hub connection string are needed before signing in")
	}
	if e.signIn != nil {
		e.signIn()
	}
	sctx, cancel := context.WithTimeout(e.ctx, 16*time.Minute)
	e.signIn = cancel
	e.mu.Unlock()
	go func() {
		defer cancel()
		acct, err := am.SignIn(sctx, func(p auth.Prompt) {
			e.bus.publish(DeviceCodeNeeded{Prompt: DeviceCode{UserCode: p.UserCode, VerificationURL: p.VerificationURL, ExpiresAt: p.ExpiresAt, Message: p.Message}})
		})
		if err != nil {
			fix := auth.Explain(err).Fix
			if errors.Is(err, context.Canceled) {
				fix = ""
				err = errors.New("sign-in cancelled")
			}
			e.bus.publish(SignInFinished{Err: err, Fix: fix})
			return
		}
		u := acct.ConfigUser()
		e.mu.Lock()
		cfg := e.cfg.Clone()
		i := slices.IndexFunc(cfg.Users, func(x config.User) bool { return x.HomeAccountID == u.HomeAccountID })
		if i >= 0 {
			u.AddedAt = cfg.Users[i].AddedAt
			cfg.Users[i] = u
		} else {
			cfg.Users = append(cfg.Users, u)
		}
		err = config.Save(e.o.Dirs.ConfigFile(), cfg)
		if err == nil {
			e.cfg = cfg
		}
		e.mu.Unlock()
		if err != nil {
			e.bus.publish(SignInFinished{Err: fmt.Errorf("signed in, but the settings could not be saved: %w", err)})
			return
		}
		e.board.Remove("users")
		mu := MonitoringUser{ID: u.HomeAccountID, ObjectID: u.ObjectID, DisplayName: u.DisplayName, UPN: u.UPN}
		e.bus.publish(SignInFinished{User: mu})
		// Start (or wake) this user's subscription without disturbing the
		// Event Hub consumer.
		e.mu.Lock()
		c, runCtx, cs, hc := e.graphs[u.HomeAccountID], e.runCtx, e.runCS, e.runHC
		e.mu.Unlock()
		switch {
		case c != nil:
			c.Wake()
		case runCtx != nil && runCtx.Err() == nil:
			e.startGraph(runCtx, am, cfg, cs, hc, u)
		}
		e.publishUsers()
	}()
	return nil
}

// Reauthenticate implements Desk: a new device-code sign-in; signing in as
// the same account replaces its tokens.
func (e *Engine) Reauthenticate(ctx context.Context, userID string) error {
	return e.AddMonitoringUser(ctx)
}

// CancelSignIn implements Desk.
func (e *Engine) CancelSignIn() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.signIn != nil {
		e.signIn()
		e.signIn = nil
	}
}

// RemoveMonitoringUser implements Desk: delete its subscription, sign it
// out (its tokens leave the vault) and forget it.
func (e *Engine) RemoveMonitoringUser(ctx context.Context, userID string) error {
	e.mu.Lock()
	c := e.graphs[userID]
	am := e.auth
	e.mu.Unlock()
	var errs []error
	if c != nil {
		if err := c.Delete(ctx); err != nil {
			errs = append(errs, fmt.Errorf("delete subscription: %w", err))
		}
	}
	if am != nil {
		if err := am.Remove(ctx, userID); err != nil && !errors.Is(err, auth.ErrUnknownUser) {
			errs = append(errs, err)
		}
	}
	e.mu.Lock()
	cfg := e.cfg.Clone()
	cfg.Users = slices.DeleteFunc(cfg.Users, func(u config.User) bool { return u.HomeAccountID == userID })
	err := config.Save(e.o.Dirs.ConfigFile(), cfg)
	if err == nil {
		e.cfg = cfg
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	e.mu.Lock()
	if stop := e.graphStop[userID]; stop != nil {
		stop()
	}
	delete(e.graphStop, userID)
	delete(e.graphs, userID)
	delete(e.clientStates, userID)
	none := len(e.cfg.Users) == 0
	e.mu.Unlock()
	e.board.Remove("token/" + userID)
	e.board.Remove("subscription/" + userID)
	if none {
		e.board.Set(health.Component{Key: "users", Kind: "token", Label: "Monitoring users", Level: health.Unconfigured,
			State: "none", Summary: "no monitoring user is signed in", Fix: "MS Teams → Add Monitoring User"})
	}
	e.publishUsers()
	return errors.Join(errs...)
}
