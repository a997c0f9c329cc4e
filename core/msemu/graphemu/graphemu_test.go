package graphemu_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"emergencydesk/core/msemu/emuca"
	"emergencydesk/core/msemu/emutoken"
	"emergencydesk/core/msemu/graphemu"
	"emergencydesk/core/msgraph"
)

const (
	tenant = "11111111-2222-3333-4444-555555555555"
	hubURL = "EventHub:https://contoso-teams.servicebus.windows.net/eventhubname/teams-events?tenantId=" + tenant
	scopes = "User.Read Chat.Read Chat.ReadBasic ChatMessage.Read"
)

var (
	desk   = graphemu.User{ID: "aaaaaaaa-0000-0000-0000-000000000001", DisplayName: "Security Desk", UPN: "desk@contoso.com"}
	alex   = graphemu.User{ID: "bbbbbbbb-0000-0000-0000-000000000002", DisplayName: "Alex Doe", UPN: "alex@contoso.com"}
	stroll = graphemu.User{ID: "cccccccc-0000-0000-0000-000000000003", DisplayName: "Sam Roll", UPN: "sam@contoso.com"}
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type memPub struct {
	mu   sync.Mutex
	recs []msgraph.NotificationCollection
	raw  [][]byte
}

func (p *memPub) Publish(_ context.Context, key, value []byte) error {
	var nc msgraph.NotificationCollection
	if err := json.Unmarshal(value, &nc); err != nil {
		return err
	}
	p.mu.Lock()
	p.recs = append(p.recs, nc)
	p.raw = append(p.raw, append([]byte(nil), value...))
	p.mu.Unlock()
	return nil
}

func (p *memPub) all() []msgraph.ChangeNotification {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []msgraph.ChangeNotification
	for _, r := range p.recs {
		out = append(out, r.Value...)
	}
	return out
}

type env struct {
	srv    *graphemu.Server
	signer *emutoken.Signer
	clock  *fakeClock
	pub    *memPub
	hc     *http.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ca, err := emuca.New()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{signer: emutoken.NewSigner([]byte("test-key")), clock: &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}, pub: &memPub{}}
	e.srv, err = graphemu.Start(graphemu.Options{
		Signer: e.signer, CA: ca, Publisher: e.pub, TenantID: tenant,
		Users: []graphemu.User{desk, alex, stroll}, Monitored: []string{desk.ID}, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.srv.Close() })
	tr := &http.Transport{TLSClientConfig: ca.ClientTLS()}
	e.hc = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return e
}

func (e *env) token(u graphemu.User, scp, app string, life time.Duration) string {
	now := e.clock.Now()
	return e.signer.Mint(emutoken.Claims{Aud: "https://graph.microsoft.com", Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(life).Unix(),
		Oid: u.ID, Tid: tenant, PreferredUsername: u.UPN, Name: u.DisplayName, Scp: scp, AppID: app})
}

type reply struct {
	status int
	header http.Header
	body   []byte
	err    msgraph.ErrorBody
}

func (e *env) call(t testing.TB, tok, method, path string, in any) reply {
	t.Helper()
	var body io.Reader
	if in != nil {
		data, _ := json.Marshal(in)
		body = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, body: data}
	var er msgraph.ErrorResponse
	if json.Unmarshal(data, &er) == nil {
		r.err = er.Error
	}
	return r
}

func (e *env) sub(exp time.Duration) msgraph.Subscription {
	return msgraph.Subscription{ChangeType: "created", Resource: "/users/" + desk.ID + "/chats/getAllMessages",
		NotificationURL: hubURL, LifecycleNotificationURL: hubURL,
		ExpirationDateTime: e.clock.Now().Add(exp).Format(time.RFC3339Nano), ClientState: "s3cret"}
}

func TestAuthErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, tok, path string
		status          int
		code, msg       string
	}{
		{"missing", "", "/v1.0/me", 401, "InvalidAuthenticationToken", "Access token is empty."},
		{"malformed", "not-a-jwt", "/v1.0/me", 401, "InvalidAuthenticationToken", "JWT is not well formed"},
		{"forged", emutoken.NewSigner([]byte("other")).Mint(emutoken.Claims{Exp: time.Now().Add(time.Hour).Unix()}), "/v1.0/me", 401, "InvalidAuthenticationToken", "signature"},
		{"expired", e.token(desk, scopes, "app", -time.Minute), "/v1.0/me", 401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."},
		{"me without User.Read", e.token(desk, "Chat.Read", "app", time.Hour), "/v1.0/me", 403, "Authorization_RequestDenied", "Insufficient privileges"},
		{"chats without scope", e.token(desk, "User.Read", "app", time.Hour), "/v1.0/me/chats", 403, "Forbidden", "Missing scope permissions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(t, c.tok, "GET", c.path, nil)
			if r.status != c.status || r.err.Code != c.code || !strings.Contains(r.err.Message, c.msg) {
				t.Fatalf("got %d %s %q, want %d %s %q", r.status, r.err.Code, r.err.Message, c.status, c.code, c.msg)
			}
			if r.err.InnerError.RequestID == "" || r.err.InnerError.Date == "" {
				t.Fatalf("innerError lacks request-id/date: %s", r.body)
			}
		})
	}
	r := e.call(t, e.token(desk, scopes, "app", time.Hour), "GET", "/v1.0/me", nil)
	var u msgraph.User
	json.Unmarshal(r.body, &u)
	if r.status != 200 || u.ID != desk.ID || u.UserPrincipalName != desk.UPN {
		t.Fatalf("/me: %d %s", r.status, r.body)
	}
}

func TestSubscriptionRules(t *testing.T) {
	e := newEnv(t)
	tok := e.token(desk, scopes, "app-1", time.Hour)
	mod := func(f func(s *msgraph.Subscription)) msgraph.Subscription {
		s := e.sub(3 * 24 * time.Hour)
		f(&s)
		return s
	}
	cases := []struct {
		name   string
		in     msgraph.Subscription
		status int
		msg    string
	}{
		{"tenant-wide needs app permission", mod(func(s *msgraph.Subscription) { s.Resource = "/chats/getAllMessages" }), 403, "application permission"},
		{"other user's chats", mod(func(s *msgraph.Subscription) { s.Resource = "/users/" + alex.ID + "/chats/getAllMessages" }), 403, "signed-in user's own chats"},
		{"unsupported resource", mod(func(s *msgraph.Subscription) { s.Resource = "/me/messages" }), 400, "not supported"},
		{"bad notificationUrl", mod(func(s *msgraph.Subscription) {
			s.NotificationURL = "EventHub:https://contoso.servicebus.windows.net/teams-events?tenantId=x"
		}), 400, "eventhubname"},
		{"no tenantId", mod(func(s *msgraph.Subscription) {
			s.NotificationURL = "EventHub:https://contoso.servicebus.windows.net/eventhubname/teams-events"
		}), 400, "Invalid notificationUrl"},
		{"lifecycle url required", mod(func(s *msgraph.Subscription) { s.LifecycleNotificationURL = "" }), 400,
			"lifecycleNotificationUrl is a required property for subscription creation on this resource when the expirationDateTime value is set to greater than 1 hour."},
		{"over 4320 minutes", mod(func(s *msgraph.Subscription) {
			s.ExpirationDateTime = e.clock.Now().Add(4321 * time.Minute).Format(time.RFC3339)
		}), 400, "4320 minutes"},
		{"in the past", mod(func(s *msgraph.Subscription) {
			s.ExpirationDateTime = e.clock.Now().Add(-time.Minute).Format(time.RFC3339)
		}), 400, "future"},
		{"rich without cert", mod(func(s *msgraph.Subscription) { s.IncludeResourceData = true }), 400, "encryptionCertificate"},
		{"rich with garbage cert", mod(func(s *msgraph.Subscription) {
			s.IncludeResourceData, s.EncryptionCertificate, s.EncryptionCertificateID = true, "bm90IGEgY2VydA==", "c1"
		}), 400, "X.509"},
		{"rich with 1024-bit cert", mod(func(s *msgraph.Subscription) {
			s.IncludeResourceData, s.EncryptionCertificate, s.EncryptionCertificateID = true, certB64(t, 1024), "c1"
		}), 400, "2048 to 4096"},
		{"clientState too long", mod(func(s *msgraph.Subscription) { s.ClientState = strings.Repeat("x", 129) }), 400, "clientState"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(t, tok, "POST", "/v1.0/subscriptions", c.in)
			if r.status != c.status || !strings.Contains(r.err.Message, c.msg) {
				t.Fatalf("got %d %q, want %d containing %q", r.status, r.err.Message, c.status, c.msg)
			}
		})
	}
	if n := len(e.srv.Subscriptions()); n != 0 {
		t.Fatalf("%d subscriptions created by failing requests", n)
	}
	// Short ones need no lifecycle URL.
	short := e.sub(59 * time.Minute)
	short.LifecycleNotificationURL = ""
	if r := e.call(t, tok, "POST", "/v1.0/subscriptions", short); r.status != 201 {
		t.Fatalf("59-minute subscription without lifecycle URL: %d %s", r.status, r.body)
	}
}

func certB64(t testing.TB, bits int) string {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func TestSubscriptionLifecycleAndDelivery(t *testing.T) {
	e := newEnv(t)
	tok := e.token(desk, scopes, "app-1", 10*24*time.Hour)
	r := e.call(t, tok, "POST", "/v1.0/subscriptions", e.sub(72*time.Hour-time.Minute))
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var s msgraph.Subscription
	json.Unmarshal(r.body, &s)
	if s.ID == "" || s.ClientState != "s3cret" || s.Resource != "users/"+desk.ID+"/chats/getAllMessages" {
		t.Fatalf("created: %s", r.body)
	}
	// The reachability record, exactly as the contracts show.
	recs := e.pub.all()
	if len(recs) != 1 || !recs[0].IsValidation() || !strings.HasPrefix(recs[0].ChangeType, "Validation: Testing client application reachability for subscription Request-Id: ") ||
		recs[0].Resource != "NA" || recs[0].ResourceData.ID != "NA" || recs[0].SubscriptionExpirationDateTime != "NA" {
		t.Fatalf("validation record: %+v", recs)
	}
	// Duplicate → 409; another app may subscribe.
	if r := e.call(t, tok, "POST", "/v1.0/subscriptions", e.sub(time.Hour*2)); r.status != 409 {
		t.Fatalf("duplicate: %d %s", r.status, r.body)
	}
	// Quota: 10 per user across apps.
	for i := 2; i <= 10; i++ {
		tk := e.token(desk, scopes, fmt.Sprintf("app-%d", i), time.Hour)
		if r := e.call(t, tk, "POST", "/v1.0/subscriptions", e.sub(2*time.Hour)); r.status != 201 {
			t.Fatalf("app %d: %d %s", i, r.status, r.body)
		}
	}
	r = e.call(t, e.token(desk, scopes, "app-11", time.Hour), "POST", "/v1.0/subscriptions", e.sub(2*time.Hour))
	if r.status != 403 || !strings.Contains(r.err.Message, "quota") || !strings.Contains(r.err.Message, "10") {
		t.Fatalf("quota: %d %s", r.status, r.body)
	}
	// List shows only the caller's app's subscriptions.
	r = e.call(t, tok, "GET", "/v1.0/subscriptions", nil)
	var list struct{ Value []msgraph.Subscription }
	json.Unmarshal(r.body, &list)
	if len(list.Value) != 1 || list.Value[0].ID != s.ID {
		t.Fatalf("list: %s", r.body)
	}
	// PATCH renews within the limit, refuses past it.
	if r := e.call(t, tok, "PATCH", "/v1.0/subscriptions/"+s.ID, msgraph.Subscription{ExpirationDateTime: e.clock.Now().Add(4321 * time.Minute).Format(time.RFC3339)}); r.status != 400 {
		t.Fatalf("patch past max: %d", r.status)
	}
	e.clock.Advance(48 * time.Hour)
	newExp := e.clock.Now().Add(72 * time.Hour).Truncate(time.Second)
	if r := e.call(t, tok, "PATCH", "/v1.0/subscriptions/"+s.ID, msgraph.Subscription{ExpirationDateTime: newExp.Format(time.RFC3339)}); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r := e.call(t, tok, "POST", "/v1.0/subscriptions/"+s.ID+"/reauthorize", nil); r.status != 200 {
		t.Fatalf("reauthorize: %d %s", r.status, r.body)
	}
	// Others (2 h lifetime) have expired and disappeared by now.
	if n := len(e.srv.Subscriptions()); n != 1 {
		t.Fatalf("%d subscriptions live after 48 h, want 1", n)
	}

	// An emergency call creates a group chat and notifies.
	chatID, msgID, err := e.srv.PostEmergencyCall(alex, "911", "1 Main St, Springfield")
	if err != nil {
		t.Fatal(err)
	}
	recs = e.pub.all()
	n := recs[len(recs)-1]
	wantRes := fmt.Sprintf("chats('%s')/messages('%s')", chatID, msgID)
	if n.SubscriptionID != s.ID || n.ChangeType != "created" || n.ClientState != "s3cret" || n.Resource != wantRes ||
		n.ResourceData.ODataType != "#Microsoft.Graph.chatMessage" || n.TenantID != tenant || n.EncryptedContent != nil {
		t.Fatalf("notification: %+v", n)
	}
	if c, m, err := msgraph.ChatMessageIDs(n.Resource); err != nil || c != chatID || m != msgID {
		t.Fatalf("resource ids: %q %q %v", c, m, err)
	}
	// Fetch it: a real chatMessage shape; a second read within a second → 429.
	r = e.call(t, tok, "GET", "/v1.0/chats/"+chatID+"/messages/"+msgID, nil)
	var m msgraph.ChatMessage
	json.Unmarshal(r.body, &m)
	if r.status != 200 || m.Importance != "high" || m.From.User.DisplayName != "Alex Doe" || m.Body.ContentType != "html" ||
		m.Body.Content != "<p><strong>Alex Doe</strong> has placed an Emergency Call to 911.</p><p>Location: 1 Main St, Springfield</p>" {
		t.Fatalf("message: %d %s", r.status, r.body)
	}
	r = e.call(t, tok, "GET", "/v1.0/chats/"+chatID+"/messages/"+msgID, nil)
	if r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("second read: %d Retry-After=%q", r.status, r.header.Get("Retry-After"))
	}
	// Sam is not in that chat.
	if r := e.call(t, e.token(stroll, scopes, "app-1", time.Hour), "GET", "/v1.0/chats/"+chatID+"/messages/"+msgID, nil); r.status != 403 {
		t.Fatalf("non-member read: %d", r.status)
	}

	// Lifecycle: reauthorizationRequired then subscriptionRemoved; suppression.
	before := len(e.pub.all())
	e.srv.RequireReauthorization(context.Background(), s.ID)
	recs = e.pub.all()
	if len(recs) != before+1 || recs[before].LifecycleEvent != "reauthorizationRequired" || recs[before].ClientState != "s3cret" || recs[before].SubscriptionExpirationDateTime == "" {
		t.Fatalf("reauthorizationRequired: %+v", recs[before:])
	}
	e.srv.SuppressLifecycle(true)
	e.srv.RequireReauthorization(context.Background(), s.ID)
	if len(e.pub.all()) != before+1 {
		t.Fatal("lifecycle event delivered while suppressed")
	}
	e.srv.SuppressLifecycle(false)
	if err := e.srv.RemoveSubscription(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	if recs = e.pub.all(); recs[len(recs)-1].LifecycleEvent != "subscriptionRemoved" {
		t.Fatalf("subscriptionRemoved: %+v", recs[len(recs)-1])
	}
	if r := e.call(t, tok, "GET", "/v1.0/subscriptions/"+s.ID, nil); r.status != 404 {
		t.Fatalf("removed subscription: %d", r.status)
	}
	before = len(e.pub.all())
	e.srv.PostMessage(context.Background(), chatID, alex, "hello", graphemu.MessageOptions{})
	if len(e.pub.all()) != before {
		t.Fatal("notification for a removed subscription")
	}
}

func TestSendClaimMissing(t *testing.T) {
	e := newEnv(t)
	e.srv.SetSendClaimMissing(true)
	r := e.call(t, e.token(desk, scopes, "app", time.Hour), "POST", "/v1.0/subscriptions", e.sub(time.Hour*3))
	if r.status != 400 || !strings.Contains(r.err.Message, "'Send' claim(s) are required") || !strings.Contains(r.err.Message, "contoso-teams.servicebus.windows.net/teams-events") {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if len(e.pub.all()) != 0 {
		t.Fatal("validation record written though the hub refused Graph")
	}
}

func TestRichNotificationEncryption(t *testing.T) {
	e := newEnv(t)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "rich"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	s := e.sub(3 * time.Hour)
	s.IncludeResourceData, s.EncryptionCertificate, s.EncryptionCertificateID = true, base64.StdEncoding.EncodeToString(der), "cert-1"
	if r := e.call(t, e.token(desk, scopes, "app", time.Hour), "POST", "/v1.0/subscriptions", s); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	_, msgID, err := e.srv.PostEmergencyCall(alex, "933", "Lobby")
	if err != nil {
		t.Fatal(err)
	}
	recs := e.pub.all()
	ec := recs[len(recs)-1].EncryptedContent
	sum := sha1.Sum(der)
	if ec == nil || ec.EncryptionCertificateID != "cert-1" || !strings.EqualFold(ec.EncryptionCertificateThumbprint, fmt.Sprintf("%x", sum)) {
		t.Fatalf("encryptedContent: %+v", ec)
	}
	// Decrypt independently, following the contracts step by step.
	wrapped, _ := base64.StdEncoding.DecodeString(ec.DataKey)
	sym, err := rsa.DecryptOAEP(sha1.New(), nil, key, wrapped, nil)
	if err != nil || len(sym) != 32 {
		t.Fatalf("unwrap: %v (%d bytes)", err, len(sym))
	}
	data, _ := base64.StdEncoding.DecodeString(ec.Data)
	mac := hmac.New(sha256.New, sym)
	mac.Write(data)
	if base64.StdEncoding.EncodeToString(mac.Sum(nil)) != ec.DataSignature {
		t.Fatal("dataSignature is not HMAC-SHA256(key, data)")
	}
	blk, _ := aes.NewCipher(sym)
	cipher.NewCBCDecrypter(blk, sym[:16]).CryptBlocks(data, data)
	data = data[:len(data)-int(data[len(data)-1])]
	var m msgraph.ChatMessage
	if err := json.Unmarshal(data, &m); err != nil || m.ID != msgID || m.Importance != "high" || !strings.Contains(m.Body.Content, "Emergency Call to 933") {
		t.Fatalf("decrypted: %v %s", err, data)
	}
}

func TestBackfillListing(t *testing.T) {
	e := newEnv(t)
	tok := e.token(desk, scopes, "app", 10*time.Hour)
	chatID := e.srv.ChatWith(desk, stroll)
	for i := 0; i < 7; i++ {
		e.clock.Advance(time.Minute)
		e.srv.PostMessage(context.Background(), chatID, stroll, fmt.Sprintf("m%d", i), graphemu.MessageOptions{})
	}
	r := e.call(t, tok, "GET", "/v1.0/users/"+desk.ID+"/chats", nil)
	var chats struct{ Value []msgraph.Chat }
	json.Unmarshal(r.body, &chats)
	if r.status != 200 || len(chats.Value) != 1 || chats.Value[0].ChatType != "oneOnOne" {
		t.Fatalf("chats: %s", r.body)
	}
	if r := e.call(t, tok, "GET", "/v1.0/users/"+alex.ID+"/chats", nil); r.status != 403 {
		t.Fatalf("other user's chats: %d", r.status)
	}
	var got []string
	next := "/v1.0/chats/" + chatID + "/messages?$top=3"
	for pages := 0; next != ""; pages++ {
		r := e.call(t, tok, "GET", next, nil)
		var pg struct {
			Value []msgraph.ChatMessage
			Next  string `json:"@odata.nextLink"`
		}
		json.Unmarshal(r.body, &pg)
		for _, m := range pg.Value {
			got = append(got, m.Body.Content)
		}
		next = strings.TrimPrefix(pg.Next, e.srv.URL)
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if strings.Join(got, ",") != "m6,m5,m4,m3,m2,m1,m0" {
		t.Fatalf("messages newest first over pages: %v", got)
	}
	if r := e.call(t, tok, "GET", "/v1.0/chats/"+chatID+"/messages?$top=51", nil); r.status != 400 {
		t.Fatalf("$top=51: %d", r.status)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t)
	tok := e.token(desk, scopes, "app", time.Hour)
	e.srv.FailNext("/v1.0/me", 1, 503, 2*time.Second)
	r := e.call(t, tok, "GET", "/v1.0/me", nil)
	if r.status != 503 || r.header.Get("Retry-After") != "2" {
		t.Fatalf("503: %d %q", r.status, r.header.Get("Retry-After"))
	}
	if r := e.call(t, tok, "GET", "/v1.0/me", nil); r.status != 200 {
		t.Fatalf("after fault: %d", r.status)
	}
	e.srv.DropNext("/v1.0/me", 1)
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1.0/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	// A fresh connection: net/http silently retries a GET once when a
	// reused keep-alive connection dies.
	fresh := &http.Client{Transport: &http.Transport{TLSClientConfig: e.hc.Transport.(*http.Transport).TLSClientConfig, DisableKeepAlives: true}}
	if resp, err := fresh.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped connection answered %d", resp.StatusCode)
	}
	e.srv.SetLatency(150 * time.Millisecond)
	start := time.Now()
	e.call(t, tok, "GET", "/v1.0/me", nil)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("latency not applied: %v", d)
	}
}

func TestCustomWording(t *testing.T) {
	ca, _ := emuca.New()
	pub := &memPub{}
	srv, err := graphemu.Start(graphemu.Options{Signer: emutoken.NewSigner([]byte("k")), CA: ca, Publisher: pub, Monitored: []string{desk.ID},
		Users: []graphemu.User{desk}, EmergencyHTML: func(n, num, loc string) string { return n + " hat einen Notruf an " + num + " abgesetzt. " + loc }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	chatID, _, err := srv.PostEmergencyCall(alex, "112", "Berlin")
	if err != nil {
		t.Fatal(err)
	}
	if ms := srv.Messages(chatID); len(ms) != 1 || ms[0].Body.Content != "Alex Doe hat einen Notruf an 112 abgesetzt. Berlin" {
		t.Fatalf("messages: %+v", ms)
	}
	// Second call reuses the group chat.
	chat2, _, _ := srv.PostEmergencyCall(alex, "112", "Berlin")
	if chat2 != chatID || !strings.HasSuffix(chatID, "@thread.v2") {
		t.Fatalf("chat not reused or not a group chat: %s %s", chatID, chat2)
	}
}

func BenchmarkStart(b *testing.B) {
	ca, _ := emuca.New()
	signer := emutoken.NewSigner([]byte("k"))
	for b.Loop() {
		srv, err := graphemu.Start(graphemu.Options{Signer: signer, CA: ca})
		if err != nil {
			b.Fatal(err)
		}
		srv.Close()
	}
}
