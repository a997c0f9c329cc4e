package entra

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"emergencydesk/core/msemu/emutoken"
)

// maxForm bounds request bodies; real token requests are a few KB.
const maxForm = 64 << 10

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /common/discovery/instance", s.instanceDiscovery)
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.openIDConfig)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/devicecode", s.deviceCodeEndpoint)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", s.tokenEndpoint)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "The emulator supports only the device code and refresh token grants.", http.StatusNotImplemented)
	})
	mux.HandleFunc("/devicelogin", s.deviceLogin)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/devicelogin", http.StatusFound)
	})
	return mux
}

// resolveTenant maps the {tenant} path segment to the tenant id.
func (s *Server) resolveTenant(t string) (string, bool) {
	switch {
	case strings.EqualFold(t, s.opts.TenantID), strings.EqualFold(t, s.opts.TenantDomain),
		strings.EqualFold(t, "organizations"), strings.EqualFold(t, "common"):
		return s.opts.TenantID, true
	}
	return "", false
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	host := strings.TrimPrefix(s.url, "https://")
	writeJSON(w, map[string]any{
		"tenant_discovery_endpoint": s.url + "/" + s.opts.TenantID + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host, "preferred_cache": host, "aliases": []string{host},
		}},
	})
}

func (s *Server) openIDConfig(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	tid, ok := s.resolveTenant(tenant)
	if !ok {
		s.writeAAD(w, r, 90002, errArgs{tenant: tenant})
		return
	}
	base := s.url + "/" + tenant
	writeJSON(w, map[string]any{
		"issuer":                                s.url + "/" + tid + "/v2.0",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"jwks_uri":                              s.url + "/" + tid + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"grant_types_supported":                 []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
		"tenant_region_scope":                   "NA",
		"cloud_instance_name":                   "microsoftonline.com",
	})
}

// parseForm reads a POSTed form, answering Entra's error otherwise.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		s.writeAAD(w, r, 900561, errArgs{param: r.Method})
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.writeAAD(w, r, 9002313, errArgs{})
		return false
	}
	return true
}

func (s *Server) deviceCodeEndpoint(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if !s.parseForm(w, r) {
		return
	}
	clientID := r.PostForm.Get("client_id")
	s.mu.Lock()
	s.stats.DeviceCodeRequests++
	code, injected := s.takeInjectionLocked(OnDeviceCode)
	app, known := s.apps[strings.ToLower(clientID)]
	s.mu.Unlock()
	args := errArgs{clientID: clientID, tenant: tenant, appName: app.Name}
	if injected {
		s.writeAAD(w, r, code, args)
		return
	}
	if _, ok := s.checkClient(w, r, tenant, clientID, known, args); !ok {
		return
	}
	if strings.TrimSpace(r.PostForm.Get("scope")) == "" {
		s.writeAAD(w, r, 70011, args)
		return
	}
	deviceCodeStr := opaque("DAQABIQEAAAD", 180)
	userCode := newUserCode()
	s.mu.Lock()
	now := s.now()
	s.codes[deviceCodeStr] = &deviceCode{
		userCode:  userCode,
		clientID:  app.ClientID,
		scopes:    strings.Fields(r.PostForm.Get("scope")),
		expiresAt: now.Add(s.opts.DeviceCodeLifetime),
	}
	s.userCodes[normCode(userCode)] = deviceCodeStr
	s.mu.Unlock()
	verify := s.url + "/devicelogin"
	writeJSON(w, map[string]any{
		"user_code":        userCode,
		"device_code":      deviceCodeStr,
		"verification_uri": verify,
		"expires_in":       int(s.opts.DeviceCodeLifetime / time.Second),
		"interval":         int(s.opts.PollInterval / time.Second),
		"message":          fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verify, userCode),
	})
	s.log.Debug("entra emulator: device code issued", "client_id", app.ClientID)
}

// newUserCode returns a 9-character code like Entra's (e.g. "F8Z7XQ2KC"),
// from an alphabet without look-alike characters.
func newUserCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := randBytes(9)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func (s *Server) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if !s.parseForm(w, r) {
		return
	}
	f := r.PostForm
	clientID := f.Get("client_id")
	grant := f.Get("grant_type")
	isRefresh := grant == "refresh_token"
	isDevice := grant == "device_code" || grant == "urn:ietf:params:oauth:grant-type:device_code"

	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.TokenRequests++
	app, known := s.apps[strings.ToLower(clientID)]
	args := errArgs{clientID: clientID, tenant: tenant, appName: app.Name}
	points := []Where{OnToken}
	if isRefresh {
		points = append(points, OnRefresh)
	}
	if isDevice {
		points = append(points, OnDeviceCodeGrant)
	}
	if code, ok := s.takeInjectionLocked(points...); ok {
		s.writeAAD(w, r, code, args)
		return
	}
	tid, ok := s.checkClient(w, r, tenant, clientID, known, args)
	if !ok {
		return
	}
	now := s.now()
	switch {
	case isDevice:
		s.stats.DeviceCodeGrants++
		dc := s.codes[f.Get("device_code")]
		if dc == nil || !strings.EqualFold(dc.clientID, clientID) || dc.state == 3 {
			s.writeAAD(w, r, 70018, args)
			return
		}
		if !now.Before(dc.expiresAt) {
			s.writeAAD(w, r, 70020, args)
			return
		}
		if s.opts.EnforceInterval && !dc.lastPoll.IsZero() && now.Sub(dc.lastPoll) < s.opts.PollInterval {
			dc.lastPoll = now
			s.writeAAD(w, r, 70019, args)
			return
		}
		dc.lastPoll = now
		switch dc.state {
		case 0:
			s.writeAAD(w, r, 70016, args)
			return
		case 2:
			s.writeAAD(w, r, 70000, args)
			return
		}
		if app.DisablePublicClientFlows {
			s.writeAAD(w, r, 7000218, args)
			return
		}
		dc.state = 3
		delete(s.userCodes, normCode(dc.userCode))
		s.issueLocked(w, app, tid, dc.user, dc.scopes, now)
	case isRefresh:
		s.stats.RefreshGrants++
		if app.DisablePublicClientFlows {
			s.writeAAD(w, r, 7000218, args)
			return
		}
		rt := s.refresh[f.Get("refresh_token")]
		if rt == nil || !strings.EqualFold(rt.clientID, clientID) {
			s.writeAAD(w, r, 9002313, args)
			return
		}
		args.issued = rt.issuedAt
		switch {
		case rt.revoked:
			s.writeAAD(w, r, 50173, args)
			return
		case !rt.usedAt.IsZero() && now.Sub(rt.usedAt) >= s.opts.RefreshTokenGrace:
			s.writeAAD(w, r, 9002313, args)
			return
		case now.Sub(rt.issuedAt) > s.opts.RefreshTokenMaxInactive:
			s.writeAAD(w, r, 700082, args)
			return
		case s.opts.SignInFrequency > 0 && now.Sub(rt.authTime) > s.opts.SignInFrequency:
			args.issued, args.limit = rt.authTime, s.opts.SignInFrequency
			s.writeAAD(w, r, 70043, args)
			return
		}
		if rt.usedAt.IsZero() {
			rt.usedAt = now
		}
		scopes := strings.Fields(f.Get("scope"))
		if len(scopes) == 0 {
			scopes = rt.scopes
		}
		s.issueLockedAuth(w, app, tid, rt.user, scopes, now, rt.authTime)
	default:
		args.param = grant
		s.writeAAD(w, r, 70003, args)
	}
}

func (s *Server) issueLocked(w http.ResponseWriter, app App, tid string, u User, scopes []string, now time.Time) {
	s.issueLockedAuth(w, app, tid, u, scopes, now, now)
}

// issueLockedAuth writes a token response; authTime is when the user last
// signed in interactively (carried across refreshes for sign-in frequency).
func (s *Server) issueLockedAuth(w http.ResponseWriter, app App, tid string, u User, scopes []string, now, authTime time.Time) {
	var scp, granted []string
	for _, sc := range scopes {
		switch strings.ToLower(sc) {
		case "offline_access":
			continue
		case "openid", "profile", "email":
		default:
			scp = append(scp, strings.TrimPrefix(strings.TrimPrefix(sc, GraphAudience+"/"), GraphAudience+"//"))
		}
		granted = append(granted, sc)
	}
	life := s.opts.AccessTokenLifetime
	at := s.signer.Mint(emutoken.Claims{
		Aud: GraphAudience, Iss: "https://sts.windows.net/" + tid + "/",
		Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(life).Unix(),
		Oid: u.ID, Tid: tid, PreferredUsername: u.UPN, Name: u.DisplayName,
		Scp: strings.Join(scp, " "), AppID: app.ClientID,
	})
	rtStr := opaque("1.AQ4A", 600)
	s.refresh[rtStr] = &refreshToken{user: u, clientID: app.ClientID, scopes: scopes, issuedAt: now, authTime: authTime}
	s.stats.TokensIssued++
	idClaims, _ := json.Marshal(map[string]any{
		"aud": app.ClientID, "iss": s.url + "/" + tid + "/v2.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(life).Unix(),
		"name": u.DisplayName, "oid": u.ID, "preferred_username": u.UPN,
		"sub": u.ID, "tid": tid, "ver": "2.0",
	})
	b64 := base64.RawURLEncoding
	idToken := b64.EncodeToString([]byte(`{"typ":"JWT","alg":"none"}`)) + "." + b64.EncodeToString(idClaims) + "."
	clientInfo, _ := json.Marshal(map[string]string{"uid": u.ID, "utid": tid})
	writeJSON(w, map[string]any{
		"token_type":     "Bearer",
		"scope":          strings.Join(granted, " "),
		"expires_in":     int(life / time.Second),
		"ext_expires_in": int(life / time.Second),
		"access_token":   at,
		"refresh_token":  rtStr,
		"id_token":       idToken,
		"client_info":    b64.EncodeToString(clientInfo),
	})
	s.log.Debug("entra emulator: tokens issued", "user", u.UPN, "client_id", app.ClientID)
}

// checkClient answers Entra's error for an unknown tenant (90002), a
// missing client_id (900144) or an unknown application (700016) and
// reports the tenant id and whether the request may go on.
func (s *Server) checkClient(w http.ResponseWriter, r *http.Request, tenant, clientID string, known bool, args errArgs) (string, bool) {
	tid, ok := s.resolveTenant(tenant)
	switch {
	case !ok:
		s.writeAAD(w, r, 90002, args)
	case clientID == "":
		args.param = "client_id"
		s.writeAAD(w, r, 900144, args)
	case !known:
		args.tenant = tid
		s.writeAAD(w, r, 700016, args)
	default:
		return tid, true
	}
	return tid, false
}
