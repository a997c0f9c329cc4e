package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"emergencydesk/core/config"
	"emergencydesk/core/msgraph"
)

// TokenSource gives Graph access tokens for the monitoring user.
// forceRefresh asks for a new token even if the cached one looks valid.
type TokenSource interface {
	AccessToken(ctx context.Context, forceRefresh bool) (string, error)
}

// Vault is the part of *secrets.Vault the client uses.
type Vault interface {
	Get(name string) (string, error)
	Set(name, value string) error
	Delete(name string) error
}

// Clock is the time source; tests pass a fake one to simulate days.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configure a Client. Validate-style checks happen in New.
type Options struct {
	BaseURL    string       // Graph base incl. /v1.0: config.Endpoints().Graph
	HTTPClient *http.Client // carries the extra CA bundle; default http.DefaultClient
	Tokens     TokenSource
	Vault      Vault // clientState and encryption keys
	// State persists the subscription record; default: JSON in Vault.
	State StateStore

	UserID   string // the monitoring user's object id
	TenantID string // tenant id or domain for the notification URL
	// EventHubHost is the namespace host (<ns>.servicebus.windows.net) and
	// EventHub the hub name.
	EventHubHost string
	EventHub     string
	// ClientState, when set, is used instead of a random per-desk one, so
	// every desk of an organisation can verify (and adopt) the one shared
	// subscription of a monitoring user.
	ClientState string
	// TimeoutMinutes is Subscription Timeout Minutes (clamped to 4,320).
	TimeoutMinutes    int
	RichNotifications bool
	// CertValidity and CertRotateBefore govern the encryption certificate
	// (defaults 365 days and 30 days).
	CertValidity, CertRotateBefore time.Duration

	Clock  Clock
	Logger *slog.Logger
	// OnHealth receives every health change.
	OnHealth func(Health)
	// OnBackfill receives every message created since the gap began, found
	// by back-fill; the recogniser decides which are emergencies and marks
	// them recovered. Back-fill is skipped when nil.
	OnBackfill func(ctx context.Context, m msgraph.ChatMessage)
	// MaxRetries bounds retries of one request (default 4).
	MaxRetries int
	// MaxRetryWait caps a single Retry-After wait (default 60 s).
	MaxRetryWait time.Duration
}

// OptionsFromConfig fills the settings-derived fields of Options.
func OptionsFromConfig(cfg config.Config, cs config.ConnString, userID string) (Options, error) {
	ep, err := cfg.Endpoints()
	if err != nil {
		return Options{}, err
	}
	return Options{
		BaseURL: ep.Graph, UserID: userID, TenantID: cfg.OAuth.TenantID,
		EventHubHost: cs.Host, EventHub: cfg.EventHub.Name,
		TimeoutMinutes: cfg.Subscription.TimeoutMinutes, RichNotifications: cfg.Subscription.RichNotifications,
	}, nil
}

// Client is the Graph client of one monitoring user. Its methods are safe
// for concurrent use.
type Client struct {
	o    Options
	base string
	log  *slog.Logger
	hc   *http.Client

	mu     sync.Mutex // guards state, health, certs
	state  State
	loaded bool
	health Health
	certs  *certSet

	subMu    sync.Mutex // serialises subscription operations
	failures int        // consecutive Tick failures (c.mu)
	wake     chan struct{}
	csCache  string // clientState (c.mu)

	cache *msgCache
}

// New checks opts and returns a client; it does no I/O.
func New(opts Options) (*Client, error) {
	var missing []string
	if opts.BaseURL == "" {
		missing = append(missing, "BaseURL (the Graph endpoint, e.g. https://graph.microsoft.com/v1.0)")
	}
	if opts.Tokens == nil {
		missing = append(missing, "Tokens")
	}
	if opts.Vault == nil {
		missing = append(missing, "Vault")
	}
	if opts.UserID == "" {
		missing = append(missing, "UserID (the monitoring user's object id)")
	}
	if opts.TenantID == "" {
		missing = append(missing, "TenantID")
	}
	if opts.EventHubHost == "" {
		missing = append(missing, "EventHubHost (<namespace>.servicebus.windows.net from the connection string)")
	}
	if opts.EventHub == "" {
		missing = append(missing, "EventHub (the Event Hub Name setting)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("graph: missing options: %s", strings.Join(missing, ", "))
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("graph: BaseURL %q must be an https:// URL such as https://graph.microsoft.com/v1.0", opts.BaseURL)
	}
	if strings.ContainsAny(opts.EventHubHost, "/:? ") {
		return nil, fmt.Errorf("graph: EventHubHost %q must be a bare host name like contoso.servicebus.windows.net", opts.EventHubHost)
	}
	if opts.TimeoutMinutes <= 0 {
		opts.TimeoutMinutes = config.DefaultSubscriptionTimeoutMinutes
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.State == nil {
		opts.State = VaultStateStore{V: opts.Vault}
	}
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = 4
	}
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = time.Minute
	}
	if opts.CertValidity <= 0 {
		opts.CertValidity = 365 * 24 * time.Hour
	}
	if opts.CertRotateBefore <= 0 {
		opts.CertRotateBefore = 30 * 24 * time.Hour
	}
	c := &Client{
		o: opts, base: strings.TrimRight(opts.BaseURL, "/"), hc: opts.HTTPClient,
		log:   opts.Logger.With("component", "graph", "user", opts.UserID),
		cache: newMsgCache(512),
		wake:  make(chan struct{}, 1),
	}
	c.health = Health{UserID: opts.UserID, State: StateMissing}
	return c, nil
}

// NotificationURL is the Event Hub delivery URL Graph is given.
func (c *Client) NotificationURL() string {
	return fmt.Sprintf("EventHub:https://%s/eventhubname/%s?tenantId=%s", c.o.EventHubHost, url.PathEscape(c.o.EventHub), url.QueryEscape(c.o.TenantID))
}

// Resource is the subscribed resource.
func (c *Client) Resource() string { return "/users/" + c.o.UserID + "/chats/getAllMessages" }

// request performs one Graph call with token handling and bounded retries:
// 429/503/504 and connection failures wait (Retry-After when given,
// exponential backoff otherwise); one 401 forces a token refresh.
func (c *Client) request(ctx context.Context, op, method, pathOrURL string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	target := pathOrURL
	if !strings.HasPrefix(target, "https://") {
		target = c.base + pathOrURL
	} else if bu, tu := mustURL(c.base), mustURL(target); tu == nil || bu == nil || !strings.EqualFold(tu.Host, bu.Host) {
		// Never send the token to a host named by a response (nextLink).
		return fmt.Errorf("graph: %s: refusing to follow a link to another host than %s", op, c.base)
	}
	refreshed := false
	backoff := 500 * time.Millisecond
	for attempt := 0; ; attempt++ {
		tok, err := c.o.Tokens.AccessToken(ctx, false)
		if err != nil {
			return fmt.Errorf("graph: %s: get access token: %w", op, err)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.hc.Do(req)
		var gerr *Error
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			gerr = &Error{Op: op, Err: err}
		} else {
			data, rerr := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
			resp.Body.Close()
			switch {
			case rerr != nil:
				gerr = &Error{Op: op, Err: rerr}
			case resp.StatusCode >= 200 && resp.StatusCode < 300:
				if out != nil && len(bytes.TrimSpace(data)) > 0 {
					if err := json.Unmarshal(data, out); err != nil {
						return fmt.Errorf("graph: %s: unreadable response: %w", op, err)
					}
				}
				return nil
			default:
				gerr = parseError(op, resp, data)
				gerr.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.o.Clock.Now())
			}
		}
		if gerr.Status == http.StatusUnauthorized && !refreshed {
			refreshed = true
			c.log.Info("graph answered 401; refreshing the access token once", "op", op, "code", gerr.Code)
			if _, err := c.o.Tokens.AccessToken(ctx, true); err != nil {
				return fmt.Errorf("graph: %s: token refresh after 401: %w", op, err)
			}
			continue
		}
		retryable := gerr.Status == 0 || gerr.Status == http.StatusTooManyRequests ||
			gerr.Status == http.StatusServiceUnavailable || gerr.Status == http.StatusGatewayTimeout ||
			gerr.Status == http.StatusBadGateway
		if !retryable || attempt >= c.o.MaxRetries {
			return gerr
		}
		wait := gerr.RetryAfter
		if wait <= 0 {
			wait = backoff + time.Duration(rand.Int64N(int64(backoff/2)))
			backoff = min(backoff*2, 30*time.Second)
		}
		wait = min(wait, c.o.MaxRetryWait)
		c.log.Info("graph request will be retried", "op", op, "status", gerr.Status, "wait", wait, "attempt", attempt+1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.o.Clock.After(wait):
		}
	}
}

// retryAfter parses Retry-After (seconds or HTTP date).
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Me returns the signed-in user's profile.
func (c *Client) Me(ctx context.Context) (msgraph.User, error) {
	var u msgraph.User
	err := c.request(ctx, "read /me", http.MethodGet, "/me", nil, &u)
	return u, err
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		return nil
	}
	return u
}
