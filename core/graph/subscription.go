package graph

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"emergencydesk/core/msgraph"
	"emergencydesk/core/secrets"
)

// MaxLifetime is Graph's longest subscription on Teams chat messages.
const MaxLifetime = 4320 * time.Minute

// expirySafety keeps the requested expiry under Graph's maximum even with
// some clock skew between this machine and Graph.
const expirySafety = 5 * time.Minute

// SubState is the health state of a subscription.
type SubState string

// Subscription states.
const (
	StateActive   SubState = "active"
	StateRenewing SubState = "renewing"
	StateFailing  SubState = "failing"
	StateMissing  SubState = "missing"
)

// Health describes one user's subscription for the health view.
type Health struct {
	UserID         string
	SubscriptionID string
	Expiration     time.Time
	LastRenewal    time.Time
	State          SubState
	LastError      string // in words; empty when healthy
	Fix            string
	Kind           Kind
}

// Lifetime returns the subscription lifetime asked of Graph for a
// Subscription Timeout Minutes setting: clamped to Graph's 4,320-minute
// maximum less a safety margin.
func Lifetime(timeoutMinutes int) time.Duration {
	d := time.Duration(timeoutMinutes) * time.Minute
	if d > MaxLifetime-expirySafety {
		d = MaxLifetime - expirySafety
	}
	if d < time.Minute {
		d = time.Minute
	}
	return d
}

// RenewAt is when a subscription renewed (or created) at from and expiring
// at exp should be renewed: at two thirds of its life, and never later than
// an hour before expiry (but not before half its life, so short ones do
// not renew in a loop).
func RenewAt(from, exp time.Time) time.Time {
	life := exp.Sub(from)
	at := from.Add(life * 2 / 3)
	if exp.Sub(at) < time.Hour {
		at = exp.Add(-time.Hour)
		if half := from.Add(life / 2); at.Before(half) {
			at = half
		}
	}
	return at
}

// Health returns the current health.
func (c *Client) Health() Health {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.health
}

// SubscriptionID returns the current subscription id ("" when none), so the
// engine can route notifications to the right user's client.
func (c *Client) SubscriptionID() string {
	// Load the stored state on first use: a notification may arrive before
	// Run has checked the subscription, and must not look like a stranger's.
	st, err := c.loadState()
	if err != nil {
		return ""
	}
	return st.SubscriptionID
}

func (c *Client) setHealth(f func(h *Health)) {
	c.mu.Lock()
	before := c.health
	f(&c.health)
	c.health.SubscriptionID = c.state.SubscriptionID
	c.health.Expiration = c.state.Expiration
	c.health.LastRenewal = c.state.LastRenewal
	h := c.health
	c.mu.Unlock()
	if c.o.OnHealth != nil && h != before {
		c.o.OnHealth(h)
	}
}

func (c *Client) fail(err error) error {
	sum, fix := Classify(err)
	kind := KindOther
	var ge *Error
	if errors.As(err, &ge) {
		kind = ge.Kind()
	}
	c.log.Warn("graph subscription problem", "summary", sum, "err", err)
	c.setHealth(func(h *Health) {
		h.State, h.LastError, h.Fix, h.Kind = StateFailing, sum, fix, kind
	})
	return err
}

func (c *Client) ok() {
	c.setHealth(func(h *Health) { h.State, h.LastError, h.Fix, h.Kind = StateActive, "", "", "" })
}

// loadState reads the persisted state once. c.subMu held.
func (c *Client) loadState() (State, error) {
	c.mu.Lock()
	if c.loaded {
		st := c.state
		c.mu.Unlock()
		return st, nil
	}
	c.mu.Unlock()
	st, err := c.o.State.Load(c.o.UserID)
	if err != nil && !strings.Contains(err.Error(), "damaged") {
		return State{}, err
	}
	if err != nil {
		c.log.Warn("subscription state unreadable; starting fresh", "err", err)
	}
	c.mu.Lock()
	c.state, c.loaded = st, true
	c.mu.Unlock()
	return st, nil
}

func (c *Client) saveState(st State) error {
	c.mu.Lock()
	// Keep a watermark advanced by Resolve meanwhile.
	if c.state.Watermark.After(st.Watermark) {
		st.Watermark = c.state.Watermark
	}
	c.state = st
	c.mu.Unlock()
	if err := c.o.State.Save(c.o.UserID, st); err != nil {
		return fmt.Errorf("graph: save subscription state: %w", err)
	}
	return nil
}

// clientState returns the user's clientState, creating it on first use.
func (c *Client) clientState() (string, error) {
	if c.o.ClientState != "" {
		return c.o.ClientState, nil
	}
	name := secrets.ClientStateName(c.o.UserID)
	v, err := c.o.Vault.Get(name)
	if err == nil && v != "" {
		return v, nil
	}
	if err != nil && !errors.Is(err, secrets.ErrNotFound) {
		return "", err
	}
	b := make([]byte, 32)
	rand.Read(b)
	v = base64.RawURLEncoding.EncodeToString(b)
	if err := c.o.Vault.Set(name, v); err != nil {
		return "", fmt.Errorf("graph: store clientState in the vault: %w", err)
	}
	return v, nil
}

// Ensure makes sure a live subscription exists: it checks the stored one,
// re-creates it when missing or expired (back-filling the gap), adopts an
// existing one on 409.
func (c *Client) Ensure(ctx context.Context) error {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	return c.ensureLocked(ctx)
}

func (c *Client) ensureLocked(ctx context.Context) error {
	st, err := c.loadState()
	if err != nil {
		return c.fail(err)
	}
	now := c.o.Clock.Now()
	if st.SubscriptionID != "" && st.Expiration.After(now) {
		var sub msgraph.Subscription
		err := c.request(ctx, "check subscription", http.MethodGet, "/subscriptions/"+url.PathEscape(st.SubscriptionID), nil, &sub)
		if err == nil && c.matches(sub, st) {
			st.Watermark = now
			if exp, err := sub.Expiration(); err == nil {
				st.Expiration = exp
			}
			if err := c.saveState(st); err != nil {
				return c.fail(err)
			}
			c.ok()
			return nil
		}
		var ge *Error
		if err != nil && !(errors.As(err, &ge) && ge.Status == http.StatusNotFound) {
			return c.fail(err)
		}
		c.log.Warn("stored subscription is gone or outdated; re-creating", "subscription", st.SubscriptionID)
	}
	return c.recreateLocked(ctx, st)
}

// matches reports whether a subscription Graph returned still fits the
// settings (same hub, same certificate).
func (c *Client) matches(sub msgraph.Subscription, st State) bool {
	if !strings.EqualFold(sub.NotificationURL, c.NotificationURL()) {
		return false
	}
	if c.o.RichNotifications != sub.IncludeResourceData {
		return false
	}
	if c.o.RichNotifications {
		k, rotated, err := c.ensureCert()
		if err != nil {
			return false
		}
		if foreignCert(sub.EncryptionCertificateID, st.CertID, k.id) {
			// Another desk created the shared subscription with its own
			// certificate: keep it (replacing it would start a tug of war);
			// its rich content is fetched here instead of decrypted.
			return true
		}
		if rotated || k.id != st.CertID || (sub.EncryptionCertificateID != "" && sub.EncryptionCertificateID != k.id) {
			return false
		}
	}
	return true
}

// foreignCert reports whether a subscription's certificate is neither this
// desk's current nor its previous one.
func foreignCert(subCert, ourOld, ourNew string) bool {
	return subCert != "" && subCert != ourOld && subCert != ourNew
}

// recreateLocked deletes a stale subscription (best effort), creates a new
// one and back-fills from the watermark when there was a gap.
func (c *Client) recreateLocked(ctx context.Context, old State) error {
	c.setHealth(func(h *Health) { h.State = StateMissing })
	if old.SubscriptionID != "" {
		err := c.request(ctx, "delete old subscription", http.MethodDelete, "/subscriptions/"+url.PathEscape(old.SubscriptionID), nil, nil)
		var ge *Error
		if err != nil && !(errors.As(err, &ge) && ge.Status == http.StatusNotFound) {
			c.log.Info("old subscription could not be deleted", "err", err)
		}
	}
	if err := c.createLocked(ctx, old); err != nil {
		return c.fail(err)
	}
	c.ok()
	gapFrom := old.Watermark
	if gapFrom.IsZero() {
		gapFrom = old.LastRenewal
	}
	if !gapFrom.IsZero() && c.o.OnBackfill != nil {
		if _, err := c.Backfill(ctx, gapFrom.Add(-2*time.Minute)); err != nil {
			c.log.Warn("back-fill after re-creating the subscription failed", "err", err)
			sum, fix := Classify(err)
			c.setHealth(func(h *Health) { h.LastError, h.Fix = "back-fill failed: "+sum, fix })
		}
	}
	return nil
}

func (c *Client) newSubscription(now time.Time) (msgraph.Subscription, *encKey, error) {
	cs, err := c.clientState()
	if err != nil {
		return msgraph.Subscription{}, nil, err
	}
	sub := msgraph.Subscription{
		ChangeType:               "created",
		Resource:                 c.Resource(),
		NotificationURL:          c.NotificationURL(),
		LifecycleNotificationURL: c.NotificationURL(),
		ExpirationDateTime:       now.Add(Lifetime(c.o.TimeoutMinutes)).UTC().Format(time.RFC3339Nano),
		ClientState:              cs,
	}
	var k *encKey
	if c.o.RichNotifications {
		if k, _, err = c.ensureCert(); err != nil {
			return sub, nil, err
		}
		sub.IncludeResourceData = true
		sub.EncryptionCertificate = base64.StdEncoding.EncodeToString(k.der)
		sub.EncryptionCertificateID = k.id
	}
	return sub, k, nil
}

func (c *Client) createLocked(ctx context.Context, old State) error {
	now := c.o.Clock.Now()
	body, k, err := c.newSubscription(now)
	if err != nil {
		return err
	}
	var got msgraph.Subscription
	err = c.request(ctx, "create subscription", http.MethodPost, "/subscriptions", body, &got)
	var ge *Error
	if errors.As(err, &ge) && ge.Status == http.StatusConflict {
		return c.adoptLocked(ctx, body, k, old)
	}
	if err != nil {
		return err
	}
	return c.saved(got, k, now, old)
}

func (c *Client) saved(got msgraph.Subscription, k *encKey, now time.Time, old State) error {
	exp, err := got.Expiration()
	if err != nil {
		return fmt.Errorf("graph: subscription %s has an unreadable expirationDateTime %q", got.ID, got.ExpirationDateTime)
	}
	st := State{SubscriptionID: got.ID, Expiration: exp, Created: now, LastRenewal: now, Watermark: now}
	if k != nil {
		st.CertID = k.id
	}
	st.SubCertID = got.EncryptionCertificateID
	if old.Watermark.After(st.Watermark) {
		st.Watermark = old.Watermark
	}
	c.log.Info("graph subscription ready", "subscription", got.ID, "expires", exp)
	return c.saveState(st)
}

// adoptLocked handles 409: our app already has a subscription on the
// resource. Adopt it when it is ours (same clientState, hub, certificate),
// otherwise replace it.
func (c *Client) adoptLocked(ctx context.Context, body msgraph.Subscription, k *encKey, old State) error {
	var list struct {
		Value []msgraph.Subscription `json:"value"`
	}
	if err := c.request(ctx, "list subscriptions", http.MethodGet, "/subscriptions", nil, &list); err != nil {
		return err
	}
	for _, s := range list.Value {
		if !strings.EqualFold(strings.TrimPrefix(s.Resource, "/"), strings.TrimPrefix(body.Resource, "/")) || !strings.Contains(s.ChangeType, "created") {
			continue
		}
		// Another desk of the same organisation may own it: with the shared
		// clientState (Options.ClientState) and the same hub it is usable
		// here even with that desk's certificate.
		ours := (s.ClientState == "" || s.ClientState == body.ClientState) &&
			strings.EqualFold(s.NotificationURL, body.NotificationURL) &&
			s.IncludeResourceData == body.IncludeResourceData
		if !ours {
			c.log.Warn("replacing a conflicting subscription that is not usable by this desk", "subscription", s.ID)
			if err := c.request(ctx, "delete conflicting subscription", http.MethodDelete, "/subscriptions/"+url.PathEscape(s.ID), nil, nil); err != nil {
				return err
			}
			var got msgraph.Subscription
			now := c.o.Clock.Now()
			if err := c.request(ctx, "create subscription", http.MethodPost, "/subscriptions", body, &got); err != nil {
				return err
			}
			return c.saved(got, k, now, old)
		}
		c.log.Info("adopting existing subscription", "subscription", s.ID)
		now := c.o.Clock.Now()
		var got msgraph.Subscription
		patch := msgraph.Subscription{ExpirationDateTime: now.Add(Lifetime(c.o.TimeoutMinutes)).UTC().Format(time.RFC3339Nano)}
		if err := c.request(ctx, "renew adopted subscription", http.MethodPatch, "/subscriptions/"+url.PathEscape(s.ID), patch, &got); err != nil {
			return err
		}
		if got.ID == "" {
			got = s
			got.ExpirationDateTime = patch.ExpirationDateTime
		}
		return c.saved(got, k, now, old)
	}
	return fmt.Errorf("graph: Graph reported a conflicting subscription on %s but lists none for this app: %w", body.Resource, &Error{Op: "create subscription", Status: http.StatusConflict})
}

// Renew extends the subscription (PATCH), which also re-authorizes it.
func (c *Client) Renew(ctx context.Context) error {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	return c.renewLocked(ctx)
}

func (c *Client) renewLocked(ctx context.Context) error {
	st, err := c.loadState()
	if err != nil {
		return c.fail(err)
	}
	now := c.o.Clock.Now()
	if st.SubscriptionID == "" || !st.Expiration.After(now) {
		return c.ensureLocked(ctx)
	}
	if c.o.RichNotifications {
		if k, rotated, err := c.ensureCert(); err != nil {
			return c.fail(err)
		} else if own := st.SubCertID == "" || st.SubCertID == st.CertID; own && (rotated || k.id != st.CertID) {
			// A new certificate needs a new subscription; the old key stays
			// to decrypt notifications already in the hub.
			c.log.Info("encryption certificate rotated; replacing the subscription")
			return c.recreateLocked(ctx, st)
		}
	}
	c.setHealth(func(h *Health) { h.State = StateRenewing })
	var got msgraph.Subscription
	patch := msgraph.Subscription{ExpirationDateTime: now.Add(Lifetime(c.o.TimeoutMinutes)).UTC().Format(time.RFC3339Nano)}
	err = c.request(ctx, "renew subscription", http.MethodPatch, "/subscriptions/"+url.PathEscape(st.SubscriptionID), patch, &got)
	var ge *Error
	if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
		c.log.Warn("subscription vanished before renewal; re-creating", "subscription", st.SubscriptionID)
		return c.recreateLocked(ctx, st)
	}
	if err != nil {
		return c.fail(err)
	}
	exp, perr := got.Expiration()
	if perr != nil {
		exp, _ = time.Parse(time.RFC3339Nano, patch.ExpirationDateTime)
	}
	st.Expiration, st.LastRenewal, st.Watermark = exp, now, now
	if err := c.saveState(st); err != nil {
		return c.fail(err)
	}
	c.ok()
	c.log.Info("graph subscription renewed", "subscription", st.SubscriptionID, "expires", exp)
	return nil
}

// Reauthorize re-authorizes the subscription without extending it.
func (c *Client) Reauthorize(ctx context.Context) error {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	st, err := c.loadState()
	if err != nil {
		return c.fail(err)
	}
	if st.SubscriptionID == "" {
		return c.ensureLocked(ctx)
	}
	err = c.request(ctx, "reauthorize subscription", http.MethodPost, "/subscriptions/"+url.PathEscape(st.SubscriptionID)+"/reauthorize", nil, nil)
	var ge *Error
	if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
		return c.recreateLocked(ctx, st)
	}
	if err != nil {
		// Renewal re-authorizes too.
		c.log.Info("reauthorize failed; trying a renewal", "err", err)
		return c.renewLocked(ctx)
	}
	c.ok()
	return nil
}

// Delete removes the subscription and the user's stored state, clientState
// and keys (monitoring user removed).
func (c *Client) Delete(ctx context.Context) error {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	st, err := c.loadState()
	if err != nil {
		return err
	}
	if st.SubscriptionID != "" {
		err := c.request(ctx, "delete subscription", http.MethodDelete, "/subscriptions/"+url.PathEscape(st.SubscriptionID), nil, nil)
		var ge *Error
		if err != nil && !(errors.As(err, &ge) && ge.Status == http.StatusNotFound) {
			return err
		}
	}
	var errs []error
	errs = append(errs, c.o.State.Delete(c.o.UserID))
	errs = append(errs, c.o.Vault.Delete(secrets.ClientStateName(c.o.UserID)))
	errs = append(errs, c.o.Vault.Delete(CertName(c.o.UserID)))
	c.mu.Lock()
	c.state = State{}
	c.certs = nil
	c.mu.Unlock()
	c.setHealth(func(h *Health) { *h = Health{UserID: c.o.UserID, State: StateMissing} })
	return errors.Join(errs...)
}

// HandleLifecycle acts on a lifecycle notification: re-authorize on
// reauthorizationRequired, re-create (and back-fill) on subscriptionRemoved,
// back-fill on missed. Lifecycle events are a bonus: the timer in Run keeps
// the subscription alive without them.
func (c *Client) HandleLifecycle(ctx context.Context, n msgraph.ChangeNotification) error {
	if err := c.checkClientState(n); err != nil {
		return err
	}
	if id := c.SubscriptionID(); id != "" && n.SubscriptionID != id {
		c.log.Info("lifecycle event for another subscription ignored", "subscription", n.SubscriptionID, "event", n.LifecycleEvent)
		return nil
	}
	c.log.Info("lifecycle event", "event", n.LifecycleEvent, "subscription", n.SubscriptionID)
	switch n.LifecycleEvent {
	case msgraph.LifecycleReauthorizationRequired:
		return c.Reauthorize(ctx)
	case msgraph.LifecycleSubscriptionRemoved:
		c.subMu.Lock()
		defer c.subMu.Unlock()
		st, err := c.loadState()
		if err != nil {
			return c.fail(err)
		}
		return c.recreateLocked(ctx, st)
	case msgraph.LifecycleMissed:
		c.mu.Lock()
		since := c.state.Watermark
		c.mu.Unlock()
		if c.o.OnBackfill != nil && !since.IsZero() {
			_, err := c.Backfill(ctx, since.Add(-2*time.Minute))
			return err
		}
	}
	return nil
}

// Tick does whatever the subscription needs now (create, renew, retry) and
// returns when it next needs attention. Run calls it on a timer; tests call
// it directly with a fake clock.
func (c *Client) Tick(ctx context.Context) (time.Time, error) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	st, err := c.loadState()
	now := c.o.Clock.Now()
	if err != nil {
		return now.Add(time.Minute), c.fail(err)
	}
	switch {
	case st.SubscriptionID == "" || !st.Expiration.After(now):
		err = c.ensureLocked(ctx)
	case !now.Before(RenewAt(st.LastRenewal, st.Expiration)):
		err = c.renewLocked(ctx)
	}
	c.mu.Lock()
	st = c.state
	c.mu.Unlock()
	now = c.o.Clock.Now()
	if err != nil || st.SubscriptionID == "" {
		c.mu.Lock()
		c.failures++
		n := c.failures
		c.mu.Unlock()
		wait := min(time.Minute<<min(n-1, 4), 15*time.Minute)
		next := now.Add(wait)
		// Retry before expiry while the subscription still lives.
		if !st.Expiration.IsZero() && st.Expiration.After(now) && next.After(st.Expiration.Add(-5*time.Minute)) {
			next = st.Expiration.Add(-5 * time.Minute)
			if next.Before(now.Add(30 * time.Second)) {
				next = now.Add(30 * time.Second)
			}
		}
		return next, err
	}
	c.mu.Lock()
	c.failures = 0
	c.mu.Unlock()
	return RenewAt(st.LastRenewal, st.Expiration), nil
}

// Run keeps the subscription alive until ctx ends: it renews on a timer
// whether or not lifecycle events arrive.
func (c *Client) Run(ctx context.Context) error {
	for {
		next, _ := c.Tick(ctx)
		wait := next.Sub(c.o.Clock.Now())
		if wait < time.Second {
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.o.Clock.After(wait):
		case <-c.wake:
		}
	}
}

// Wake makes Run re-check the subscription now (e.g. after settings
// changed or the network came back).
func (c *Client) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}
