package diagnose

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"emergencydesk/core/msgraph"
)

// recentPerPartition bounds how many records per partition the end-to-end
// check reads back.
const recentPerPartition = 500

// testCallHowTo tells the admin how to finish the end-to-end test.
const testCallHowTo = "To test the whole chain: from a Teams client (or Teams phone) of a user covered by the emergency calling policy, dial 933 (the US address-verification test number; it is configured here as a test number). Within seconds Teams posts the important emergency message to the security desk chat and this desk shows a TEST alert (the alert window, or `emergencydesk watch` in a terminal). If nothing arrives within a minute, run this test again and check that the monitoring user is a member of the emergency notification group chats."

// checkEndToEnd reads recent hub records looking for Graph's reachability
// record ("Validation: Testing client application reachability…") sent
// when our subscription was created.
func (r *runner) checkEndToEnd(ctx context.Context) Check {
	r.mu.Lock()
	hs := r.hub
	r.mu.Unlock()
	if hs == nil {
		return Check{Status: Skip, Detail: "skipped: the Event Hub checks did not pass"}
	}
	var since time.Time
	anyGraph := false
	for _, u := range r.cfg.Users {
		if r.passed(UserCheckID(IDGraph, u.ObjectID)) {
			anyGraph = true
			if st, err := r.deps.SubscriptionState(u.ObjectID); err == nil && !st.Created.IsZero() && (since.IsZero() || st.Created.Before(since)) {
				since = st.Created
			}
		}
	}
	if !anyGraph {
		return Check{Status: Skip, Detail: "skipped: no monitoring user's Graph check passed"}
	}
	found, seen, err := r.findValidation(ctx, hs, since.Add(-5*time.Minute))
	if err != nil {
		return Check{Status: Fail, Detail: "reading recent records from the hub failed: " + err.Error(), Fix: guideFW9093}
	}
	if found != nil {
		return Check{Status: Pass, Detail: fmt.Sprintf("Graph's reachability record for the subscription reached the hub (partition %d, offset %d, %s): Graph can write to this Event Hub.\n%s",
			found.Partition, found.Offset, found.Timestamp.UTC().Format(time.RFC3339), testCallHowTo)}
	}
	d := fmt.Sprintf("no Graph reachability record was found among the last %d records read", seen)
	if !since.IsZero() {
		d += fmt.Sprintf(" since the subscription was created (%s)", since.UTC().Format(time.RFC3339))
	}
	return Check{Status: Warn, Detail: d + "; it may have aged out of the hub's retention (Basic 1 day, Standard 7 days).\n" + testCallHowTo,
		Fix: "use Teams Integration → Resubscribe (Graph sends a new reachability record on every creation) and run this test again with end to end"}
}

// findValidation reads up to recentPerPartition records per partition and
// returns the newest validation record written at or after since.
func (r *runner) findValidation(ctx context.Context, hs *hubState, since time.Time) (*kgo.Record, int, error) {
	offsets := map[int32]kgo.Offset{}
	want := 0
	for p, end := range hs.probe.EndOffsets {
		from := max(end-recentPerPartition, hs.probe.StartOffsets[p])
		if from < end {
			offsets[p] = kgo.NewOffset().At(from)
			want += int(end - from)
		}
	}
	if want == 0 {
		return nil, 0, nil
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{}, Config: &tls.Config{RootCAs: r.roots, ServerName: r.cs.Host, MinVersion: tls.VersionTLS12}}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(hs.conn.Bootstrap),
		kgo.Dialer(func(ctx context.Context, network, addr string) (net.Conn, error) {
			if as := r.resolvedAddrs(addr); len(as) > 0 {
				addr = as[0]
			}
			return d.DialContext(ctx, network, addr)
		}),
		kgo.SASL(plain.Auth{User: "$ConnectionString", Pass: hs.conn.ConnString}.AsMechanism()),
		kgo.ClientID(hs.conn.ClientID+"-diagnose"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{hs.conn.HubName: offsets}),
	)
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()
	var found *kgo.Record
	seen := 0
	for seen < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return found, seen, errs[0].Err
		}
		fs.EachRecord(func(rec *kgo.Record) {
			seen++
			if rec.Timestamp.Before(since) || !isValidationRecord(rec.Value) {
				return
			}
			if found == nil || rec.Timestamp.After(found.Timestamp) {
				found = rec
			}
		})
	}
	return found, seen, nil
}

func isValidationRecord(v []byte) bool {
	var nc msgraph.NotificationCollection
	if len(v) > 1<<20 || json.Unmarshal(v, &nc) != nil {
		return false
	}
	for _, n := range nc.Value {
		if n.IsValidation() {
			return true
		}
	}
	return false
}
