package auth

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"emergencydesk/core/msemu/entra"
)

// fakeClock is a discrete-event clock: After registers a waiter and
// reports on parked; the test fires the earliest waiter.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	parked  chan struct{}
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC), parked: make(chan struct{}, 1024)}
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	c.mu.Unlock()
	c.parked <- struct{}{}
	return ch
}

// fireNext moves time to the earliest waiter (plus late, to imitate a
// timer that fires late after sleep) and fires it.
func (c *fakeClock) fireNext(late time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	sort.Slice(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
	w := c.waiters[0]
	c.waiters = c.waiters[1:]
	if t := w.at.Add(late); t.After(c.now) {
		c.now = t
	}
	w.ch <- c.now
	return c.now
}

// Test30DaysOneHourTokens runs the refresher for 30 simulated days against
// the emulator on the same fake clock and checks, at every wake, that the
// token the Graph client would get is valid by the emulator's clock, with
// a simulated 3-hour sleep on day 12.
func Test30DaysOneHourTokens(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, entra.Options{Clock: clk, AccessTokenLifetime: time.Hour, RefreshTokenMaxInactive: 90 * 24 * time.Hour}, memVault())
	rec := &recorder{}
	m := e.manager(t, Options{Clock: clk, OnHealth: rec.on})
	acc := signIn(t, e, m, e.emu.Users()[0].UPN)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()

	start := clk.Now()
	end := start.Add(30 * 24 * time.Hour)
	slept := false
	wakes := 0
	for clk.Now().Before(end) {
		select {
		case <-clk.parked:
		case <-time.After(10 * time.Second):
			t.Fatalf("refresher stuck at %v", clk.Now().Sub(start))
		}
		late := time.Duration(0)
		if !slept && clk.Now().Sub(start) > 12*24*time.Hour {
			late, slept = 3*time.Hour, true // laptop lid closed: timer fires 3 h late
		}
		// Before anyone asks for a token, the refresher alone must have kept
		// it valid (except right after the simulated sleep).
		if h, _ := m.Health(acc.HomeAccountID); late == 0 && !h.AccessTokenExpiry.After(clk.Now()) {
			t.Fatalf("day %.2f: refresher let the token lapse: %+v", clk.Now().Sub(start).Hours()/24, h)
		}
		now := clk.fireNext(late)
		wakes++
		tok, err := m.AccessToken(ctx, acc.HomeAccountID, false)
		if err != nil {
			t.Fatalf("day %.2f: %v", now.Sub(start).Hours()/24, err)
		}
		if _, err := e.emu.CheckAccessToken(tok); err != nil {
			t.Fatalf("day %.2f: token lapsed: %v", now.Sub(start).Hours()/24, err)
		}
		if h, _ := m.Health(acc.HomeAccountID); h.State == ReauthRequired || h.State == RefreshFailing {
			t.Fatalf("day %.2f: health %+v", now.Sub(start).Hours()/24, h)
		}
	}
	st := e.emu.Stats()
	t.Logf("30 days: %d wakes, %d refresh grants, %d health events", wakes, st.RefreshGrants, len(rec.hs))
	// ~ one refresh per 50 minutes; well under one per wake.
	if st.RefreshGrants < 30*24 || st.RefreshGrants > 30*24*2 {
		t.Fatalf("%d refreshes in 30 days", st.RefreshGrants)
	}
	if !slept {
		t.Fatal("sleep not simulated")
	}
}
