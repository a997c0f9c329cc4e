package entra

import (
	"context"
	"encoding/json"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

var graphScopes = []string{"User.Read", "Chat.Read", "Chat.ReadBasic", "ChatMessage.Read"}

func newServer(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newPCA(t testing.TB, s *Server) public.Client {
	t.Helper()
	c, err := public.New(s.ClientID(), public.WithAuthority(s.Authority("")),
		public.WithInstanceDiscovery(false), public.WithHTTPClient(s.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// post sends a form and decodes the JSON answer.
func post(t testing.TB, s *Server, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.HTTPClient().PostForm(s.URL()+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s: decode: %v", path, err)
	}
	return resp.StatusCode, m
}

func startDeviceCode(t testing.TB, s *Server) (deviceCode, userCode string) {
	t.Helper()
	st, m := post(t, s, "/"+s.TenantID()+"/oauth2/v2.0/devicecode", url.Values{
		"client_id": {s.ClientID()}, "scope": {"User.Read Chat.Read openid offline_access profile"}})
	if st != 200 {
		t.Fatalf("devicecode: %d %v", st, m)
	}
	for _, k := range []string{"user_code", "device_code", "verification_uri", "message"} {
		if m[k] == "" || m[k] == nil {
			t.Fatalf("devicecode response lacks %s: %v", k, m)
		}
	}
	if m["expires_in"].(float64) != 900 || m["interval"].(float64) != 5 {
		t.Fatalf("expires_in/interval = %v/%v, want 900/5", m["expires_in"], m["interval"])
	}
	return m["device_code"].(string), m["user_code"].(string)
}

func poll(t testing.TB, s *Server, deviceCode string) (int, map[string]any) {
	return post(t, s, "/"+s.TenantID()+"/oauth2/v2.0/token", url.Values{
		"client_id": {s.ClientID()}, "grant_type": {"device_code"}, "device_code": {deviceCode}})
}

var aadDesc = regexp.MustCompile(`^AADSTS(\d+): .+ Trace ID: [0-9a-f-]{36} Correlation ID: \S+ Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)

func wantAAD(t testing.TB, m map[string]any, oauthErr string, code int) {
	t.Helper()
	if m["error"] != oauthErr {
		t.Fatalf("error = %v, want %s (%v)", m["error"], oauthErr, m["error_description"])
	}
	desc, _ := m["error_description"].(string)
	sm := aadDesc.FindStringSubmatch(desc)
	if sm == nil || sm[1] != strings.TrimSpace(jsonNum(code)) {
		t.Fatalf("error_description %q does not start AADSTS%d", desc, code)
	}
	codes, _ := m["error_codes"].([]any)
	if len(codes) != 1 || codes[0].(float64) != float64(code) {
		t.Fatalf("error_codes = %v, want [%d]", m["error_codes"], code)
	}
	for _, k := range []string{"timestamp", "trace_id", "correlation_id"} {
		if s, _ := m[k].(string); s == "" {
			t.Fatalf("error JSON lacks %s", k)
		}
	}
}

func jsonNum(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestMSALDeviceCodeAndSilentRefresh(t *testing.T) {
	s := newServer(t, Options{AccessTokenLifetime: 2 * time.Second})
	pca := newPCA(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dc, err := pca.AcquireTokenByDeviceCode(ctx, graphScopes)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dc.Result.VerificationURL, s.URL()+"/devicelogin") || !strings.Contains(dc.Result.Message, dc.Result.UserCode) {
		t.Fatalf("device code result: %+v", dc.Result)
	}
	user := s.Users()[0]
	go func() {
		time.Sleep(100 * time.Millisecond)
		if err := s.Approve(strings.ToLower(dc.Result.UserCode), user.UPN); err != nil {
			t.Error(err)
		}
	}()
	ar, err := dc.AuthenticationResult(ctx)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := s.CheckAccessToken(ar.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Oid != user.ID || claims.Tid != s.TenantID() || claims.PreferredUsername != user.UPN || claims.Aud != GraphAudience {
		t.Fatalf("claims %+v", claims)
	}
	for _, sc := range graphScopes {
		if !claims.HasScope(sc) {
			t.Fatalf("scp %q lacks %s", claims.Scp, sc)
		}
	}
	if claims.HasScope("offline_access") || claims.HasScope("openid") {
		t.Fatalf("scp %q carries OIDC scopes", claims.Scp)
	}
	if ar.Account.HomeAccountID != user.ID+"."+s.TenantID() || ar.Account.PreferredUsername != user.UPN {
		t.Fatalf("account %+v", ar.Account)
	}
	// Tokens shorter than MSAL's 5-minute margin are refreshed on every
	// silent call: each must come from a rotated refresh token.
	before := s.Stats().RefreshGrants
	ar2, err := pca.AcquireTokenSilent(ctx, graphScopes, public.WithSilentAccount(ar.Account))
	if err != nil {
		t.Fatal(err)
	}
	// (emutoken has no uti/jti claim, so two tokens minted in the same
	// second are byte-identical: count grants instead of comparing.)
	if ar2.AccessToken == "" || s.Stats().RefreshGrants != before+1 {
		t.Fatalf("silent call did not refresh (grants %d→%d)", before, s.Stats().RefreshGrants)
	}
	if _, err := pca.AcquireTokenSilent(ctx, graphScopes, public.WithSilentAccount(ar.Account)); err != nil {
		t.Fatalf("second refresh with rotated token: %v", err)
	}
}

func TestDeviceCodeErrors(t *testing.T) {
	s := newServer(t, Options{})
	// pending, then declined
	d1, u1 := startDeviceCode(t, s)
	if _, m := poll(t, s, d1); true {
		wantAAD(t, m, "authorization_pending", 70016)
	}
	if err := s.Decline(u1); err != nil {
		t.Fatal(err)
	}
	_, m := poll(t, s, d1)
	wantAAD(t, m, "authorization_declined", 70000)

	// expired after expires_in
	d2, u2 := startDeviceCode(t, s)
	s.Advance(899 * time.Second)
	_, m = poll(t, s, d2)
	wantAAD(t, m, "authorization_pending", 70016)
	s.Advance(time.Second)
	_, m = poll(t, s, d2)
	wantAAD(t, m, "expired_token", 70020)
	if err := s.Approve(u2, s.Users()[0].UPN); err == nil {
		t.Fatal("approving an expired code succeeded")
	}

	// bad device code
	_, m = poll(t, s, "nonsense")
	wantAAD(t, m, "bad_verification_code", 70018)

	// unknown client and tenant
	st, m := post(t, s, "/"+s.TenantID()+"/oauth2/v2.0/devicecode", url.Values{"client_id": {"11111111-2222-3333-4444-555555555555"}, "scope": {"User.Read"}})
	if st != 400 {
		t.Fatalf("unknown client status %d", st)
	}
	wantAAD(t, m, "unauthorized_client", 700016)
	_, m = post(t, s, "/nosuchtenant.example/oauth2/v2.0/devicecode", url.Values{"client_id": {s.ClientID()}, "scope": {"User.Read"}})
	wantAAD(t, m, "invalid_tenant", 90002)
}

func TestSlowDown(t *testing.T) {
	s := newServer(t, Options{EnforceInterval: true})
	d, u := startDeviceCode(t, s)
	_, m := poll(t, s, d)
	wantAAD(t, m, "authorization_pending", 70016)
	_, m = poll(t, s, d)
	wantAAD(t, m, "slow_down", 70019)
	s.Approve(u, s.Users()[0].ID)
	s.Advance(5 * time.Second)
	if st, m := poll(t, s, d); st != 200 || m["access_token"] == nil {
		t.Fatalf("after waiting interval: %d %v", st, m["error"])
	}
	// A redeemed device code cannot be redeemed twice.
	_, m = poll(t, s, d)
	wantAAD(t, m, "bad_verification_code", 70018)
}

func redeem(t testing.TB, s *Server) map[string]any {
	t.Helper()
	d, u := startDeviceCode(t, s)
	if err := s.Approve(u, s.Users()[0].UPN); err != nil {
		t.Fatal(err)
	}
	st, m := poll(t, s, d)
	if st != 200 {
		t.Fatalf("redeem: %d %v", st, m)
	}
	return m
}

func refresh(t testing.TB, s *Server, rt string) (int, map[string]any) {
	return post(t, s, "/"+s.TenantID()+"/oauth2/v2.0/token", url.Values{
		"client_id": {s.ClientID()}, "grant_type": {"refresh_token"}, "refresh_token": {rt},
		"scope": {"User.Read Chat.Read openid offline_access profile"}})
}

func TestRefreshRotationAndExpiry(t *testing.T) {
	s := newServer(t, Options{SignInFrequency: 30 * 24 * time.Hour})
	m := redeem(t, s)
	rt1 := m["refresh_token"].(string)
	st, m2 := refresh(t, s, rt1)
	if st != 200 || m2["refresh_token"] == rt1 {
		t.Fatalf("refresh did not rotate: %d", st)
	}
	_, m3 := refresh(t, s, rt1)
	wantAAD(t, m3, "invalid_grant", 9002313) // old token dead after use

	rt2 := m2["refresh_token"].(string)
	s.Advance(90*24*time.Hour + time.Second)
	_, m4 := refresh(t, s, rt2)
	wantAAD(t, m4, "invalid_grant", 700082)

	// Sign-in frequency counts from the interactive sign-in, across refreshes.
	m = redeem(t, s)
	rt := m["refresh_token"].(string)
	for i := 0; i < 31; i++ {
		s.Advance(24 * time.Hour)
		st, mm := refresh(t, s, rt)
		if i < 29 {
			if st != 200 {
				t.Fatalf("day %d: %v", i+1, mm["error_description"])
			}
			rt = mm["refresh_token"].(string)
			continue
		}
		wantAAD(t, mm, "invalid_grant", 70043)
		break
	}

	m = redeem(t, s)
	if n := s.RevokeRefreshTokens(s.Users()[0].UPN); n == 0 {
		t.Fatal("nothing revoked")
	}
	_, m5 := refresh(t, s, m["refresh_token"].(string))
	wantAAD(t, m5, "invalid_grant", 50173)
}

func TestRefreshGrace(t *testing.T) {
	s := newServer(t, Options{RefreshTokenGrace: time.Minute})
	rt := redeem(t, s)["refresh_token"].(string)
	if st, _ := refresh(t, s, rt); st != 200 {
		t.Fatal("first use failed")
	}
	s.Advance(30 * time.Second)
	if st, _ := refresh(t, s, rt); st != 200 {
		t.Fatal("reuse within grace failed")
	}
	s.Advance(31 * time.Second)
	if st, _ := refresh(t, s, rt); st == 200 {
		t.Fatal("reuse after grace succeeded")
	}
}

func TestInjection(t *testing.T) {
	s := newServer(t, Options{})
	for _, code := range []int{7000218, 65001, 700082, 70043, 700084, 50076, 50079, 7000215, 7000222} {
		if err := s.InjectError(code, OnDeviceCode, false); err != nil {
			t.Fatal(err)
		}
		st, m := post(t, s, "/"+s.TenantID()+"/oauth2/v2.0/devicecode", url.Values{"client_id": {s.ClientID()}, "scope": {"User.Read"}})
		if st < 400 {
			t.Fatalf("AADSTS%d: status %d", code, st)
		}
		wantAAD(t, m, catalog[code].err, code)
		if strings.Contains(m["error_description"].(string), "%!") {
			t.Fatalf("bad template: %s", m["error_description"])
		}
		// one-shot: the next request works
		startDeviceCode(t, s)
	}
	// sticky on refresh only: device code redemption unaffected.
	s.InjectError(50076, OnRefresh, true)
	m := redeem(t, s)
	for i := 0; i < 2; i++ {
		_, mm := refresh(t, s, m["refresh_token"].(string))
		wantAAD(t, mm, "invalid_grant", 50076)
	}
	s.ClearInjections()
	if st, _ := refresh(t, s, m["refresh_token"].(string)); st != 200 {
		t.Fatal("refresh after ClearInjections failed")
	}
	if err := s.InjectError(12345, OnToken, false); err == nil {
		t.Fatal("unknown code accepted")
	}
}

func TestPublicClientFlowsDisabled(t *testing.T) {
	s := newServer(t, Options{Apps: []App{{ClientID: "aaaaaaaa-1111-2222-3333-444444444444", Name: "Desk", DisablePublicClientFlows: true}}})
	d, u := startDeviceCode(t, s)
	s.Approve(u, s.Users()[0].UPN)
	st, m := poll(t, s, d)
	if st != 401 {
		t.Fatalf("status %d", st)
	}
	wantAAD(t, m, "invalid_client", 7000218)
}

func TestDeviceLoginPage(t *testing.T) {
	s := newServer(t, Options{})
	d, u := startDeviceCode(t, s)
	hc := s.HTTPClient()
	get, err := hc.Get(s.URL() + "/devicelogin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if !strings.Contains(string(body), `name="otc"`) {
		t.Fatal("no code field")
	}
	resp, err := hc.PostForm(s.URL()+"/devicelogin", url.Values{"otc": {"WRONGCODE"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "didn&#39;t work") {
		t.Fatalf("wrong code accepted: %d", resp.StatusCode)
	}
	resp, _ = hc.PostForm(s.URL()+"/devicelogin", url.Values{"otc": {strings.ToLower(u[:4]) + "-" + u[4:]}})
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	for _, want := range []string{"Emergency Desk", "Chat.Read", "User.Read", s.Users()[0].UPN} {
		if !strings.Contains(page, want) {
			t.Fatalf("consent page lacks %q", want)
		}
	}
	flow := regexp.MustCompile(`name="flow" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if flow == nil {
		t.Fatal("no flow field")
	}
	// a forged flow value is refused
	resp, _ = hc.PostForm(s.URL()+"/devicelogin", url.Values{"otc": {u}, "flow": {"00"}, "action": {"approve"}, "user": {s.Users()[0].UPN}})
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatal("forged form accepted")
	}
	resp, _ = hc.PostForm(s.URL()+"/devicelogin", url.Values{"otc": {u}, "flow": {flow[1]}, "action": {"approve"}, "user": {s.Users()[0].UPN}})
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("approve: %d", resp.StatusCode)
	}
	if st, m := poll(t, s, d); st != 200 {
		t.Fatalf("after approve: %v", m["error"])
	}
}

func TestExpireAccessTokens(t *testing.T) {
	s := newServer(t, Options{})
	at := redeem(t, s)["access_token"].(string)
	if _, err := s.CheckAccessToken(at); err != nil {
		t.Fatal(err)
	}
	s.ExpireAccessTokens()
	if _, err := s.CheckAccessToken(at); err == nil {
		t.Fatal("token still valid after ExpireAccessTokens")
	}
	s.Advance(time.Second)
	at2 := redeem(t, s)["access_token"].(string)
	if _, err := s.CheckAccessToken(at2); err != nil {
		t.Fatalf("new token: %v", err)
	}
	s.Advance(time.Hour)
	if _, err := s.CheckAccessToken(at2); err == nil {
		t.Fatal("token valid after its lifetime")
	}
}

func TestLoopbackOnly(t *testing.T) {
	s := newServer(t, Options{})
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %s", s.URL())
	}
}

func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		s, err := New(Options{})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
