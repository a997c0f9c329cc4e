package diagnose

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"emergencydesk/core/config"
	"emergencydesk/core/graph"
	"emergencydesk/core/msgraph"
)

// httpClient talks to Graph through the same resolver, dialer and roots
// as the network checks.
func (r *runner) httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			addrs := r.resolvedAddrs(addr)
			if len(addrs) == 0 {
				addrs = []string{addr}
			}
			return r.dial(ctx, addrs)
		},
		TLSClientConfig:     &tls.Config{RootCAs: r.roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: r.opts.CheckTimeout,
		DisableKeepAlives:   true,
	}}
}

// graphGet performs one GET and returns a *graph.Error on failure, so the
// graph package's classification (Summary, Fix) applies.
func (r *runner) graphGet(ctx context.Context, op, path, token string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(r.endpoints.Graph, "/")+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := r.httpClient().Do(req)
	if err != nil {
		return &graph.Error{Op: op, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return &graph.Error{Op: op, Err: err}
	}
	if resp.StatusCode/100 != 2 {
		return GraphHTTPError(op, resp.StatusCode, resp.Header.Get("request-id"), body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("graph %s: unreadable answer: %v", op, err)
	}
	return nil
}

// GraphHTTPError builds a *graph.Error from a Graph error answer.
func GraphHTTPError(op string, status int, requestID string, body []byte) *graph.Error {
	e := &graph.Error{Op: op, Status: status, RequestID: requestID}
	var er msgraph.ErrorResponse
	if json.Unmarshal(body, &er) == nil && er.Error.Code != "" {
		e.Code, e.Message = er.Error.Code, er.Error.Message
		if er.Error.InnerError.RequestID != "" {
			e.RequestID = er.Error.InnerError.RequestID
		}
	} else {
		e.Message = http.StatusText(status)
	}
	return e
}

// NotificationURL is the Event Hub delivery URL this desk expects, as
// graph.Client.NotificationURL builds it.
func NotificationURL(hubHost, hub, tenant string) string {
	return fmt.Sprintf("EventHub:https://%s/eventhubname/%s?tenantId=%s", hubHost, url.PathEscape(hub), url.QueryEscape(tenant))
}

// sameNotificationURL compares two Event Hub URLs: host and tenant without
// case, the hub name exactly.
func sameNotificationURL(a, b string) bool {
	pa, pb := parseEHURL(a), parseEHURL(b)
	return pa != nil && pb != nil && strings.EqualFold(pa.Host, pb.Host) && pa.Path == pb.Path &&
		strings.EqualFold(pa.Query().Get("tenantId"), pb.Query().Get("tenantId"))
}

func parseEHURL(s string) *url.URL {
	rest, ok := strings.CutPrefix(s, "EventHub:")
	if !ok {
		if len(s) > 9 && strings.EqualFold(s[:9], "eventhub:") {
			rest = s[9:]
		} else {
			return nil
		}
	}
	u, err := url.Parse(rest)
	if err != nil {
		return nil
	}
	u.Path, _ = url.PathUnescape(u.Path)
	return u
}

func (r *runner) checkGraph(ctx context.Context, u config.User, tok TokenInfo) Check {
	if s := r.need(IDTLSGraph); s != "" {
		return Check{Status: Skip, Detail: s}
	}
	graphFail := func(err error) Check {
		var ge *graph.Error
		if errors.As(err, &ge) && ge.Status == 0 && (ctx.Err() != nil || isTimeout(ge.Err)) {
			return Check{Status: Fail, Detail: fmt.Sprintf("Microsoft Graph did not answer within %s", roundDur(r.opts.CheckTimeout)), Fix: guideFW443}
		}
		s, f := graph.Classify(err)
		return Check{Status: Fail, Detail: s, Fix: f}
	}
	var me msgraph.User
	if err := r.graphGet(ctx, "read /me", "/me", tok.AccessToken, &me); err != nil {
		return graphFail(err)
	}
	var lines []string
	lines = append(lines, fmt.Sprintf("/me: %s (%s)", me.DisplayName, me.UserPrincipalName))
	if me.ID != "" && u.ObjectID != "" && !strings.EqualFold(me.ID, u.ObjectID) {
		return Check{Status: Fail, Detail: strings.Join(lines, "\n") + fmt.Sprintf("\nthe token belongs to user %s, but this monitoring user is %s", me.ID, u.ObjectID), Fix: reSignIn + " with the right account"}
	}

	state, stErr := r.deps.SubscriptionState(u.ObjectID)
	if stErr != nil {
		lines = append(lines, "the desk's record of the subscription cannot be read: "+stErr.Error())
	}
	var list struct {
		Value []msgraph.Subscription `json:"value"`
	}
	if err := r.graphGet(ctx, "list subscriptions", "/subscriptions", tok.AccessToken, &list); err != nil {
		c := graphFail(err)
		c.Detail = strings.Join(lines, "\n") + "\n" + c.Detail
		return c
	}
	var sub *msgraph.Subscription
	for i, s := range list.Value {
		if state.SubscriptionID != "" && s.ID == state.SubscriptionID {
			sub = &list.Value[i]
			break
		}
		if sub == nil && strings.HasSuffix(strings.ToLower(s.Resource), "/chats/getallmessages") {
			sub = &list.Value[i]
		}
	}
	want := NotificationURL(r.cs.Host, r.cfg.EventHub.Name, r.cfg.OAuth.TenantID)
	if sub == nil {
		var s, f string
		if r.deps.SubscriptionProblem != nil {
			s, f = r.deps.SubscriptionProblem(u)
		}
		if s != "" {
			return Check{Status: Fail, Detail: strings.Join(lines, "\n") + "\nno chat-message subscription exists; the last attempt to create it failed: " + s, Fix: f}
		}
		d := "no chat-message subscription exists for this user, so Graph sends no notification to the hub"
		if state.SubscriptionID != "" {
			d = fmt.Sprintf("the desk's subscription %s no longer exists in Graph (expired or removed)", state.SubscriptionID)
		}
		return Check{Status: Fail, Detail: strings.Join(lines, "\n") + "\n" + d,
			Fix: "start the desk (it creates the subscription) or use Teams Integration → Resubscribe, then run the test again"}
	}
	lines = append(lines, fmt.Sprintf("subscription %s on %s (%s)", sub.ID, sub.Resource, sub.ChangeType))
	if !sameNotificationURL(sub.NotificationURL, want) {
		return Check{Status: Fail, Detail: strings.Join(lines, "\n") + fmt.Sprintf("\nit delivers to %s, but this desk reads %s", sub.NotificationURL, want),
			Fix: "the subscription points at another hub (settings changed since it was created): use Teams Integration → Resubscribe so it is re-created for this hub"}
	}
	lines = append(lines, "delivers to this hub: "+want)
	exp, err := time.Parse(time.RFC3339Nano, sub.ExpirationDateTime)
	if err != nil {
		return Check{Status: Warn, Detail: strings.Join(lines, "\n") + fmt.Sprintf("\nexpiration %q is unreadable", sub.ExpirationDateTime), Fix: "report this; the desk renews on its own timer"}
	}
	now := r.deps.Now()
	lines = append(lines, fmt.Sprintf("expires %s (in %s)", exp.UTC().Format(time.RFC3339), fmtAge(exp.Sub(now))))
	switch {
	case !exp.After(now):
		return Check{Status: Fail, Detail: strings.Join(lines, "\n") + "\nthe subscription has expired", Fix: "use Teams Integration → Resubscribe; keep the desk running so it renews"}
	case !state.Expiration.IsZero() && absDur(state.Expiration.Sub(exp)) > 2*time.Minute:
		return Check{Status: Warn, Detail: strings.Join(lines, "\n") + fmt.Sprintf("\nthe desk expected it to expire at %s", state.Expiration.UTC().Format(time.RFC3339)),
			Fix: "another desk or tool renewed it, or the desk's record is stale; Teams Integration → Resubscribe re-aligns them"}
	case exp.Sub(now) < time.Hour:
		return Check{Status: Warn, Detail: strings.Join(lines, "\n") + "\nless than an hour left", Fix: "keep the desk running: it renews subscriptions before they expire"}
	}
	return Check{Status: Pass, Detail: strings.Join(lines, "\n")}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
