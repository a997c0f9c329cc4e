package auth

import (
	"math/rand/v2"
	"time"
)

// State is a monitoring user's token health.
type State string

// States, worst last.
const (
	Healthy        State = "healthy"
	ExpiringSoon   State = "expiring_soon"
	RefreshFailing State = "refresh_failing"
	ReauthRequired State = "reauth_required"
	SignedOut      State = "signed_out"
)

// Health is one user's token health.
type Health struct {
	UserID, UPN, DisplayName string
	State                    State
	AccessTokenExpiry        time.Time
	LastRefresh              time.Time // last successful token response
	NextRefresh              time.Time // planned (or retry) time
	RefreshTokenIssued       time.Time
	RefreshTokenAge          time.Duration
	Failures                 int    // consecutive
	LastError                string // plain words, "" when fine
	Explanation              *Explanation
}

// changed reports whether h differs from old in anything but the age.
func (h Health) changed(old Health) bool {
	return h.State != old.State || !h.AccessTokenExpiry.Equal(old.AccessTokenExpiry) ||
		!h.LastRefresh.Equal(old.LastRefresh) || !h.NextRefresh.Equal(old.NextRefresh) ||
		h.Failures != old.Failures || h.LastError != old.LastError || h.UPN != old.UPN
}

// Health returns userID's current health.
func (m *Manager) Health(userID string) (Health, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.users[userID]
	if u == nil {
		return Health{UserID: userID, State: SignedOut}, false
	}
	return m.healthLocked(u, m.now()), true
}

// HealthAll returns every user's health.
func (m *Manager) HealthAll() []Health {
	var out []Health
	for _, a := range m.Accounts() {
		if h, ok := m.Health(a.HomeAccountID); ok {
			out = append(out, h)
		}
	}
	return out
}

// nextRefreshLocked is when u's tokens should next be renewed: ahead of
// access token expiry, and at half the refresh token window (the smaller
// of the RefreshTokenExpirationMinutes setting and Entra's 90 days).
func (m *Manager) nextRefreshLocked(u *user) time.Time {
	if u.atExpiry.IsZero() {
		return time.Time{} // unknown: now
	}
	next := u.atExpiry.Add(-lead(u.atLifetime))
	if rt := u.rtIssued.Add(m.rtWindow / 2); rt.Before(next) {
		next = rt
	}
	if !u.nextRetry.IsZero() {
		next = u.nextRetry
	}
	return next
}

// healthLocked computes u's health at now and remembers it as reported.
func (m *Manager) healthLocked(u *user, now time.Time) Health {
	h := Health{UserID: u.acct.HomeAccountID, UPN: u.acct.UPN, DisplayName: u.acct.DisplayName,
		AccessTokenExpiry: u.atExpiry, LastRefresh: u.lastRefresh, RefreshTokenIssued: u.rtIssued,
		Failures: u.failures, State: u.state}
	if u.state != ReauthRequired {
		h.NextRefresh = m.nextRefreshLocked(u)
		if h.NextRefresh.IsZero() {
			h.NextRefresh = now
		}
	}
	if !u.rtIssued.IsZero() {
		h.RefreshTokenAge = now.Sub(u.rtIssued)
	}
	if u.lastErr != nil {
		ex := *u.lastErr
		h.Explanation, h.LastError = &ex, ex.String()
	}
	if h.State == Healthy || h.State == ExpiringSoon {
		h.State = Healthy
		// Past the planned refresh (late timer, sleep) or an old refresh
		// token: not broken yet, but worth a glance.
		if u.atExpiry.IsZero() || !now.Before(u.atExpiry.Add(-lead(u.atLifetime)/2)) || h.RefreshTokenAge > m.rtWindow*3/4 {
			h.State = ExpiringSoon
		}
		u.state = h.State
	}
	u.lastHealth = h
	return h
}

func (m *Manager) emit(h Health) {
	if m.opts.OnHealth == nil {
		return
	}
	m.notifyMu.Lock()
	defer m.notifyMu.Unlock()
	m.opts.OnHealth(h)
}

// backoff is the retry delay after n consecutive failures: 2 s doubling,
// capped at 5 minutes, with ±25 % jitter so many desks do not retry in step.
func backoff(n int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < n && d < 5*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 5*time.Minute)
	j := time.Duration(rand.Int64N(int64(d)/2)) - d/4
	return d + j
}
