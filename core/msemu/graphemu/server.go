package graphemu

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"emergencydesk/core/msemu/emuca"
	"emergencydesk/core/msemu/emutoken"
	"emergencydesk/core/msgraph"
)

// Publisher writes one record to the Event Hub (the Kafka hub helper
// implements it; tests use an in-memory one).
type Publisher interface {
	Publish(ctx context.Context, key, value []byte) error
}

// User is a directory user known to the emulated tenant.
type User struct {
	ID          string
	DisplayName string
	UPN         string
}

// Options configure Start.
type Options struct {
	Signer *emutoken.Signer // required: checks bearer tokens
	// CheckToken, when set, verifies bearer tokens instead of Signer (the
	// facade passes Entra's CheckAccessToken, so "expire all access
	// tokens" reaches Graph as it does in Microsoft's cloud).
	CheckToken func(tok string) (emutoken.Claims, error)
	CA         *emuca.CA // required: issues the TLS certificate
	// Hosts are extra names for the TLS certificate (e.g. graph.microsoft.com).
	Hosts     []string
	Publisher Publisher // where notifications go; nil drops them
	TenantID  string
	// Users is the directory; Monitored are the security desk members who
	// are put in every emergency group chat.
	Users     []User
	Monitored []string
	// Now is the emulator's clock (expiry, throttling, token lifetime);
	// default time.Now.
	Now func() time.Time
	// EmergencyHTML words the emergency message; default DefaultEmergencyHTML.
	EmergencyHTML func(callerName, dialedNumber, location string) string
	// ChatReadInterval is the per-chat message read limit (default 1 s).
	ChatReadInterval time.Duration
	Logger           *slog.Logger
}

// Server is a running emulated Graph.
type Server struct {
	// URL is https://127.0.0.1:<port>; BaseURL adds /v1.0.
	URL, BaseURL string

	opts Options
	ln   net.Listener
	srv  *http.Server
	log  *slog.Logger

	mu            sync.Mutex
	users         map[string]User
	monitored     []string
	chats         map[string]*chat
	chatOrder     []string
	subs          map[string]*subscription
	lastRead      map[string]time.Time // chat+app → last message read
	lastMsgID     int64
	faults        []fault
	latency       time.Duration
	sendClaimMiss bool
	noLifecycle   bool
	requests      map[string]int
}

type chat struct {
	msgraph.Chat
	members  []string
	messages []msgraph.ChatMessage
}

type subscription struct {
	msgraph.Subscription
	appID, userID string
	expires       time.Time
	cert          *encCert
}

type fault struct {
	prefix     string
	kind       string // "status", "drop"
	status     int
	retryAfter time.Duration
	n          int
}

// Start listens on 127.0.0.1 and serves until Close.
func Start(opts Options) (*Server, error) {
	if opts.Signer == nil || opts.CA == nil {
		return nil, errors.New("graphemu: Options.Signer and Options.CA are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.EmergencyHTML == nil {
		opts.EmergencyHTML = DefaultEmergencyHTML
	}
	if opts.ChatReadInterval == 0 {
		opts.ChatReadInterval = time.Second
	}
	if opts.TenantID == "" {
		opts.TenantID = "00000000-0000-0000-0000-0000000000e1"
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	tlsCfg, err := opts.CA.ServerTLS(opts.Hosts...)
	if err != nil {
		return nil, err
	}
	// HTTP/1.1 only, so dropped-connection faults can hijack the conn.
	tlsCfg.NextProtos = []string{"http/1.1"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts: opts, ln: ln, log: log.With("emulator", "graph"),
		users: map[string]User{}, chats: map[string]*chat{}, subs: map[string]*subscription{},
		lastRead: map[string]time.Time{}, requests: map[string]int{},
		monitored: append([]string(nil), opts.Monitored...),
	}
	for _, u := range opts.Users {
		s.users[u.ID] = u
	}
	s.URL = "https://" + ln.Addr().String()
	s.BaseURL = s.URL + "/v1.0"
	s.srv = &http.Server{Handler: s.routes(), TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second,
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}, ErrorLog: nil}
	go s.srv.ServeTLS(ln, "", "")
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

func (s *Server) now() time.Time { return s.opts.Now() }

// AddUser adds or replaces a directory user.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// SetMonitored sets the security desk members added to emergency chats.
func (s *Server) SetMonitored(userIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.monitored = append([]string(nil), userIDs...)
}

// FailNext makes the next n requests whose path starts with prefix ("" for
// any) answer status (e.g. 503) with Retry-After (0 omits the header).
func (s *Server) FailNext(prefix string, n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{prefix: prefix, kind: "status", status: status, retryAfter: retryAfter, n: n})
}

// DropNext makes the next n matching requests lose their connection with
// no response.
func (s *Server) DropNext(prefix string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{prefix: prefix, kind: "drop", n: n})
}

// SetLatency delays every response by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetSendClaimMissing imitates a namespace where the "Microsoft Graph
// Change Tracking" principal lacks "Azure Event Hubs Data Sender":
// subscription creation fails with "Send claim(s) required".
func (s *Server) SetSendClaimMissing(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sendClaimMiss = on
}

// SuppressLifecycle stops lifecycle events from reaching the hub (the
// contracts say it is uncertain they ever arrive through an Event Hub).
func (s *Server) SuppressLifecycle(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noLifecycle = on
}

// SetChatReadInterval changes the per-chat message read limit (0 turns it
// off, for benchmarks).
func (s *Server) SetChatReadInterval(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.ChatReadInterval = d
}

// Requests returns how many requests matched "METHOD /path-prefix" so far
// (e.g. "GET /v1.0/chats/").
func (s *Server) Requests(methodPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.requests {
		if strings.HasPrefix(k, methodPrefix) {
			n += v
		}
	}
	return n
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1.0/me", s.auth("User.Read", s.getMe))
	mux.HandleFunc("POST /v1.0/subscriptions", s.auth("", s.createSub))
	mux.HandleFunc("GET /v1.0/subscriptions", s.auth("", s.listSubs))
	mux.HandleFunc("GET /v1.0/subscriptions/{id}", s.auth("", s.getSub))
	mux.HandleFunc("PATCH /v1.0/subscriptions/{id}", s.auth("", s.patchSub))
	mux.HandleFunc("DELETE /v1.0/subscriptions/{id}", s.auth("", s.deleteSub))
	mux.HandleFunc("POST /v1.0/subscriptions/{id}/reauthorize", s.auth("", s.reauthorize))
	mux.HandleFunc("GET /v1.0/chats", s.auth("Chat.ReadBasic Chat.Read", s.listChats))
	mux.HandleFunc("GET /v1.0/me/chats", s.auth("Chat.ReadBasic Chat.Read", s.listChats))
	mux.HandleFunc("GET /v1.0/users/{uid}/chats", s.auth("Chat.ReadBasic Chat.Read", s.listChats))
	mux.HandleFunc("GET /v1.0/chats/{chat}/messages", s.auth("Chat.Read", s.listMessages))
	mux.HandleFunc("GET /v1.0/chats/{chat}/messages/{msg}", s.auth("ChatMessage.Read Chat.Read", s.getMessage))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, s.now(), http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", lastSegment(r.URL.Path)))
	})
	return s.faultMiddleware(mux)
}

func lastSegment(p string) string {
	p = strings.TrimRight(p, "/")
	return p[strings.LastIndex(p, "/")+1:]
}

func (s *Server) faultMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[r.Method+" "+r.URL.Path]++
		latency := s.latency
		var f *fault
		for i := range s.faults {
			if s.faults[i].n > 0 && strings.HasPrefix(r.URL.Path, s.faults[i].prefix) {
				s.faults[i].n--
				cp := s.faults[i]
				f = &cp
				break
			}
		}
		s.mu.Unlock()
		if latency > 0 {
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
				return
			}
		}
		if f != nil {
			switch f.kind {
			case "drop":
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						c.Close()
						return
					}
				}
				panic(http.ErrAbortHandler) // fallback: net/http drops the connection
			case "status":
				if f.retryAfter > 0 {
					w.Header().Set("Retry-After", strconv.Itoa(int((f.retryAfter+time.Second-1)/time.Second)))
				}
				code := "serviceNotAvailable"
				msg := "The service is temporarily unavailable. Please retry later."
				if f.status == http.StatusTooManyRequests {
					code, msg = "TooManyRequests", "Too many requests."
				}
				writeError(w, s.now(), f.status, code, msg)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// caller is the authenticated principal of a request.
type caller struct {
	emutoken.Claims
	app string
}

type handler func(w http.ResponseWriter, r *http.Request, c caller)

// auth checks the bearer token and, when scopes is not empty, that the
// token holds one of them (space-separated).
func (s *Server) auth(scopes string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := s.now()
		authz := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(authz, "Bearer ")
		if !ok || strings.TrimSpace(tok) == "" {
			writeError(w, now, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
			return
		}
		var claims emutoken.Claims
		var err error
		if s.opts.CheckToken != nil {
			claims, err = s.opts.CheckToken(strings.TrimSpace(tok))
		} else {
			claims, err = s.opts.Signer.Parse(strings.TrimSpace(tok), now)
		}
		switch {
		case errors.Is(err, emutoken.ErrExpired):
			writeError(w, now, http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
			return
		case errors.Is(err, emutoken.ErrSignature):
			writeError(w, now, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid signature.")
			return
		case err != nil:
			writeError(w, now, http.StatusUnauthorized, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed, there are no dots (.).")
			return
		}
		if scopes != "" {
			ok := false
			for _, sc := range strings.Fields(scopes) {
				ok = ok || claims.HasScope(sc)
			}
			if !ok {
				if r.URL.Path == "/v1.0/me" {
					writeError(w, now, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
				} else {
					writeError(w, now, http.StatusForbidden, "Forbidden", fmt.Sprintf("Missing scope permissions on the request. API requires one of '%s'. Scopes on the request '%s'", strings.Join(strings.Fields(scopes), ", "), claims.Scp))
				}
				return
			}
		}
		app := claims.AppID
		if app == "" {
			app = claims.Aud
		}
		h(w, r, caller{Claims: claims, app: app})
	}
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request, c caller) {
	s.mu.Lock()
	u, ok := s.users[c.Oid]
	s.mu.Unlock()
	if !ok {
		u = User{ID: c.Oid, DisplayName: c.Name, UPN: c.PreferredUsername}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context":    "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
		"id":                u.ID,
		"displayName":       u.DisplayName,
		"userPrincipalName": u.UPN,
		"mail":              u.UPN,
	})
}

// newID returns a random GUID-shaped id.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	if w.Header().Get("request-id") == "" {
		w.Header().Set("request-id", newID())
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError writes Graph's error JSON with innerError request-id and date.
func writeError(w http.ResponseWriter, now time.Time, status int, code, msg string) {
	rid := newID()
	w.Header().Set("request-id", rid)
	w.Header().Set("client-request-id", rid)
	writeJSON(w, status, msgraph.ErrorResponse{Error: msgraph.ErrorBody{
		Code: code, Message: msg,
		InnerError: msgraph.InnerError{Date: now.UTC().Format("2006-01-02T15:04:05"), RequestID: rid, ClientRequestID: rid},
	}})
}
