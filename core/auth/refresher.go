package auth

import (
	"context"
	"time"
)

// Run keeps every user's tokens fresh until ctx ends. It wakes at the
// earliest planned refresh, but at least every WakeInterval, and compares
// wall time on each wake, so a timer that fires late after sleep/resume or
// a clock jump is caught up at once.
func (m *Manager) Run(ctx context.Context) error {
	for {
		now := m.now()
		next := now.Add(m.opts.WakeInterval)
		for _, id := range m.due(now) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			m.refreshOne(ctx, id)
		}
		// Recompute after the refreshes and note state drift (expiring).
		now = m.now()
		m.mu.Lock()
		var changed []Health
		for _, u := range m.users {
			if u.state == ReauthRequired {
				continue
			}
			if t := m.nextRefreshLocked(u); t.Before(next) {
				next = t
			}
			old := u.lastHealth
			if h := m.healthLocked(u, now); h.changed(old) {
				changed = append(changed, h)
			}
		}
		m.mu.Unlock()
		for _, h := range changed {
			m.emit(h)
		}
		wait := next.Sub(now)
		if wait < 0 {
			wait = 0
		}
		wait = min(wait, m.opts.WakeInterval)
		planned := now.Add(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.kick:
		case <-m.clock.After(wait):
			if late := m.now().Sub(planned); late > m.opts.WakeInterval {
				m.log.Info("auth: woke late (sleep/resume or clock change); re-checking tokens", "late", late.Round(time.Second).String())
			}
		}
	}
}

// due lists users whose refresh time has come.
func (m *Manager) due(now time.Time) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id, u := range m.users {
		if u.state == ReauthRequired {
			continue
		}
		if t := m.nextRefreshLocked(u); !now.Before(t) {
			ids = append(ids, id)
		}
	}
	return ids
}

func (m *Manager) refreshOne(ctx context.Context, id string) {
	m.tokMu.Lock()
	defer m.tokMu.Unlock()
	// A Graph call may have refreshed it while we waited for tokMu.
	m.mu.Lock()
	u := m.users[id]
	stillDue := u != nil && u.state != ReauthRequired && !m.now().Before(m.nextRefreshLocked(u))
	m.mu.Unlock()
	if !stillDue {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := m.acquire(rctx, id, true); err == nil {
		m.log.Debug("auth: tokens refreshed", "user", id)
	}
}
