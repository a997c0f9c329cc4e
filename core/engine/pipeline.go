package engine

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"emergencydesk/core/alert"
	"emergencydesk/core/config"
	"emergencydesk/core/eventhub"
	"emergencydesk/core/graph"
	"emergencydesk/core/health"
	"emergencydesk/core/msgraph"
	"emergencydesk/core/store"
)

// stuckAfter is how long reading one message may fail before the chain's
// health says so.
const stuckAfter = 30 * time.Second

// handle is the Event Hub handler: recognise, record durably (alerts and
// the batch's next offsets in one transaction), then raise. An error makes
// the consumer retry the batch; duplicates are removed by message id.
func (e *Engine) handle(ctx context.Context, batch []eventhub.Record) error {
	var found []alert.Alert
	next := map[int32]int64{}
	for _, r := range batch {
		next[r.Partition] = r.Offset + 1
		coll, err := alert.ParseRecord(r.Value)
		if err != nil {
			e.log.Warn("pipeline: skipped a record that is not a Graph notification", "partition", r.Partition, "offset", r.Offset, "err", err)
			continue
		}
		for _, n := range coll.Value {
			a, ok, err := e.process(ctx, r, n)
			if err != nil {
				return err
			}
			if ok {
				found = append(found, a)
			}
		}
	}
	fresh, err := e.store.InsertAlertsAndOffsets(ctx, found, e.topic(), next)
	if err != nil {
		return err
	}
	for _, a := range fresh {
		e.raise(a)
	}
	return nil
}

func (e *Engine) topic() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg.EventHub.Name
}

// process turns one notification item into an alert, if it is one.
func (e *Engine) process(ctx context.Context, r eventhub.Record, n msgraph.ChangeNotification) (alert.Alert, bool, error) {
	switch alert.Classify(n) {
	case alert.KindValidation:
		e.log.Debug("pipeline: hub reachability record from Graph (ignored)", "partition", r.Partition, "offset", r.Offset)
		return alert.Alert{}, false, nil
	case alert.KindLifecycle:
		c, _ := e.clientFor(n.SubscriptionID, n.ClientState)
		if c == nil {
			e.log.Info("pipeline: lifecycle event for a subscription this desk does not own", "event", n.LifecycleEvent, "subscription", n.SubscriptionID)
			return alert.Alert{}, false, nil
		}
		if err := c.HandleLifecycle(ctx, n); err != nil {
			e.log.Warn("pipeline: lifecycle event not handled yet; the renewal timer will retry", "event", n.LifecycleEvent, "err", err)
		}
		return alert.Alert{}, false, nil
	case alert.KindChange:
	default:
		e.log.Warn("pipeline: skipped a notification item of unknown kind", "partition", r.Partition, "offset", r.Offset)
		return alert.Alert{}, false, nil
	}
	c, u := e.clientFor(n.SubscriptionID, n.ClientState)
	if c == nil {
		e.log.Warn("pipeline: notification for an unknown subscription (another desk's, or one replaced since); back-fill covers replaced ones",
			"subscription", n.SubscriptionID, "partition", r.Partition, "offset", r.Offset)
		return alert.Alert{}, false, nil
	}
	msg, err := e.resolve(ctx, c, r, n)
	if err != nil || msg == nil {
		return alert.Alert{}, false, err
	}
	chatID, _, _ := msgraph.ChatMessageIDs(n.Resource)
	if msg.ChatID == "" {
		msg.ChatID = chatID
	}
	src := alert.SourceLive
	if r.MissedWhileOffline {
		src = alert.SourceMissedOffline
	}
	raw, _ := json.Marshal(msg)
	e.mu.Lock()
	rules := e.rules
	e.mu.Unlock()
	a, ok := rules.Recognize(msg, alert.Meta{MonitoringUser: u.UPN, ChatID: chatID, Source: src, Raw: raw})
	if !ok {
		if rules.Suspicious(msg) {
			e.log.Warn("pipeline: high-importance message in an emergency chat did not match any pattern (a wording to add?)", "chat", msg.ChatID, "message", msg.ID)
		}
		return alert.Alert{}, false, nil
	}
	return a, true, nil
}

// recovered handles a message found by back-fill after a gap.
func (e *Engine) recovered(ctx context.Context, u config.User, m msgraph.ChatMessage) {
	e.mu.Lock()
	rules := e.rules
	e.mu.Unlock()
	raw, _ := json.Marshal(m)
	a, ok := rules.Recognize(&m, alert.Meta{MonitoringUser: u.UPN, ChatID: m.ChatID, Source: alert.SourceRecovered, Raw: raw})
	if !ok {
		return
	}
	inserted, err := e.store.InsertAlert(ctx, a)
	if err != nil {
		e.log.Error("pipeline: could not record a recovered alert", "id", a.ID, "err", err)
		return
	}
	if inserted {
		e.log.Warn("pipeline: recovered an emergency call missed during a gap", "id", a.ID)
		e.raise(a)
	}
}

func (e *Engine) raise(a alert.Alert) {
	e.log.Warn("ALERT: emergency call", "id", a.ID, "number", a.Number, "caller", a.CallerName, "test", a.IsTest, "source", a.Source)
	e.bus.publish(AlertRaised{Alert: a})
	// Mark it handed to the front ends; an alert recorded but never marked
	// (a crash in between) is raised again at the next start, so a crash
	// can at worst repeat an alert, never hide one.
	if err := e.store.SetState(context.Background(), announcedKey(a.ID), time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		e.log.Warn("pipeline: could not mark an alert as announced", "id", a.ID, "err", err)
	}
}

func announcedKey(id string) string { return "announced/" + id }

// reannounce raises recorded, unacknowledged alerts that were never
// handed to a front end (the process died between recording and raising).
func (e *Engine) reannounce(ctx context.Context) {
	pending, err := e.store.List(ctx, store.Filter{Which: store.Unacknowledged, Limit: 500})
	if err != nil {
		e.log.Error("engine: cannot read the alert log", "err", err)
		return
	}
	for i := len(pending) - 1; i >= 0; i-- { // oldest first
		a := pending[i]
		if _, ok, err := e.store.GetState(ctx, announcedKey(a.ID)); err == nil && !ok {
			e.log.Warn("engine: raising an alert recorded before a crash but never shown", "id", a.ID)
			e.raise(a)
		}
	}
}

// clientFor finds the Graph client owning a subscription id, or else the
// one whose (shared) clientState the notification carries: another desk
// may have re-created the monitoring user's subscription under a new id.
func (e *Engine) clientFor(subID, clientState string) (*graph.Client, config.User) {
	e.mu.Lock()
	graphs := make(map[string]*graph.Client, len(e.graphs))
	for id, c := range e.graphs {
		graphs[id] = c
	}
	users := slices.Clone(e.cfg.Users)
	states := e.clientStates
	e.mu.Unlock()
	user := func(id string) config.User {
		for _, u := range users {
			if u.HomeAccountID == id {
				return u
			}
		}
		return config.User{HomeAccountID: id}
	}
	for id, c := range graphs {
		if c.SubscriptionID() == subID {
			return c, user(id)
		}
	}
	if clientState != "" {
		for id, c := range graphs {
			if cs := states[id]; cs != "" && hmac.Equal([]byte(cs), []byte(clientState)) {
				return c, user(id)
			}
		}
	}
	return nil, config.User{}
}

// noteSuspicious makes dropped notifications visible: one may be a forgery
// or a leftover, but several mean this desk is missing calls (typically
// desks configured with different hub keys, so their shared clientState
// differs).
func (e *Engine) noteSuspicious() {
	e.mu.Lock()
	e.suspicious++
	e.lastSuspicious = time.Now()
	n := e.suspicious
	e.mu.Unlock()
	if n < 2 {
		return
	}
	e.board.Set(health.Component{Key: "notifications", Kind: "subscription", Label: "Notifications", Level: health.Degraded,
		State: "clientstate_mismatch", Summary: fmt.Sprintf("%d notifications dropped: their clientState is not this desk's", n),
		Fix: "Give every desk the same Event Hub connection string (the subscription's clientState is derived from its key) and re-subscribe; if no other desk exists, someone else may be writing to the hub: rotate its keys"})
}

// clearSuspicious drops the warning an hour after the last dropped one.
func (e *Engine) clearSuspicious(now time.Time) {
	e.mu.Lock()
	stale := e.suspicious > 0 && now.Sub(e.lastSuspicious) > time.Hour
	if stale {
		e.suspicious = 0
	}
	e.mu.Unlock()
	if stale {
		e.board.Remove("notifications")
	}
}

// resolve obtains the message behind a notification. Transient failures
// (Graph down or throttling, network, tokens) are retried until they pass:
// skipping could lose a call, and the records behind it on this partition
// would fail the same way. Only failures that retrying cannot fix (the
// message was deleted, the notification names no message) skip it. A nil
// message with a nil error means "nothing to alert".
func (e *Engine) resolve(ctx context.Context, c *graph.Client, r eventhub.Record, n msgraph.ChangeNotification) (*msgraph.ChatMessage, error) {
	start, stuck := time.Now(), false
	defer func() {
		if stuck {
			e.board.Remove("messages")
		}
	}()
	for attempt := 0; ; attempt++ {
		msg, err := c.Resolve(ctx, n)
		if err == nil {
			return msg, nil
		}
		var ge *graph.Error
		switch {
		case errors.Is(err, graph.ErrClientState):
			e.log.Warn("pipeline: SUSPICIOUS notification dropped: clientState does not match", "subscription", n.SubscriptionID, "partition", r.Partition, "offset", r.Offset)
			e.noteSuspicious()
			return nil, nil
		case errors.Is(err, graph.ErrValidation), errors.Is(err, graph.ErrLifecycle):
			return nil, nil
		case errors.Is(err, msgraph.ErrResource), errors.As(err, &ge) && (ge.Status == 404 || ge.Status == 400):
			e.log.Error("pipeline: the message behind a notification cannot be read (deleted or invalid); skipped", "resource", n.Resource, "partition", r.Partition, "offset", r.Offset, "err", err)
			return nil, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		}
		if time.Since(start) > stuckAfter {
			stuck = true
			sum, fix := graph.Classify(err)
			e.board.Set(health.Component{Key: "messages", Kind: "subscription", Label: "Reading messages", Level: health.Broken,
				State: "stuck", Summary: "cannot read a notified message from Graph: " + sum, Fix: fix})
		}
		e.log.Warn("pipeline: reading the message failed; retrying", "resource", n.Resource, "attempt", attempt+1, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(time.Duration(attempt+1)*time.Second, 30*time.Second)):
		}
	}
}
