package entra

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Errors are keyed by AADSTS code; text follows Microsoft's wording.
type aadError struct {
	status int
	err    string // OAuth error
	desc   string // after "AADSTSnnnn: "; %[1]s app id, %[2]s tenant, %[3]s app name
}

var catalog = map[int]aadError{
	7000218: {http.StatusUnauthorized, "invalid_client", "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."},
	65001:   {http.StatusBadRequest, "invalid_grant", "The user or administrator has not consented to use the application with ID '%[1]s' named '%[3]s'. Send an interactive authorization request for this user and resource."},
	700082:  {http.StatusBadRequest, "invalid_grant", "The refresh token has expired due to inactivity. The token was issued on %[4]s and was inactive for 90.00:00:00."},
	70043:   {http.StatusBadRequest, "invalid_grant", "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. The token was issued on %[4]s and the maximum allowed lifetime for this request is %[5]s."},
	700084:  {http.StatusBadRequest, "invalid_grant", "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which can't be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page. The token was issued on %[4]s."},
	50076:   {http.StatusBadRequest, "invalid_grant", "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'."},
	50079:   {http.StatusBadRequest, "invalid_grant", "Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '00000003-0000-0000-c000-000000000000'."},
	7000215: {http.StatusUnauthorized, "invalid_client", "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%[1]s'."},
	7000222: {http.StatusUnauthorized, "invalid_client", "The provided client secret keys for app '%[1]s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."},
	700016:  {http.StatusBadRequest, "unauthorized_client", "Application with identifier '%[1]s' was not found in the directory '%[2]s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."},
	90002:   {http.StatusBadRequest, "invalid_tenant", "Tenant '%[2]s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."},
	50173:   {http.StatusBadRequest, "invalid_grant", "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '%[4]s'."},
	9002313: {http.StatusBadRequest, "invalid_grant", "Invalid request. Request is malformed or invalid."},
	900144:  {http.StatusBadRequest, "invalid_request", "The request body must contain the following parameter: '%[6]s'."},
	70016:   {http.StatusBadRequest, "authorization_pending", "OAuth 2.0 device flow error. Authorization is pending. Continue polling."},
	70020:   {http.StatusBadRequest, "expired_token", "The provided value for the input parameter 'device_code' is not valid. This device code has expired."},
	70019:   {http.StatusBadRequest, "slow_down", "The client is polling too quickly. Increase the polling interval by 5 seconds."},
	70000:   {http.StatusBadRequest, "authorization_declined", "The user declined to authorize the request."},
	70018:   {http.StatusBadRequest, "bad_verification_code", "The provided value for the input parameter 'device_code' is not valid."},
	70011:   {http.StatusBadRequest, "invalid_scope", "The provided request must include a 'scope' input parameter."},
	50059:   {http.StatusBadRequest, "invalid_request", "No tenant-identifying information found in either the request or implied by any provided credentials."},
	900561:  {http.StatusBadRequest, "invalid_request", "The endpoint only accepts POST requests. Received a %[6]s request."},
	70003:   {http.StatusBadRequest, "unsupported_grant_type", "The app requested an unsupported grant type '%[6]s'."},
}

// InjectableCodes are the AADSTS codes InjectError accepts.
func InjectableCodes() []int {
	out := make([]int, 0, len(catalog))
	for c := range catalog {
		out = append(out, c)
	}
	sort.Ints(out)
	return out
}

// Where says which request an injected error answers.
type Where int

const (
	// OnDeviceCode answers the next /devicecode request.
	OnDeviceCode Where = iota + 1
	// OnToken answers the next /token request of any grant (a device code
	// poll or a refresh).
	OnToken
	// OnRefresh answers the next refresh_token grant only.
	OnRefresh
	// OnDeviceCodeGrant answers the next device code poll only.
	OnDeviceCodeGrant
)

type injection struct {
	code   int
	where  Where
	sticky bool
}

// InjectError makes the next request at where fail with AADSTS code; sticky
// keeps failing until ClearInjections.
func (s *Server) InjectError(code int, where Where, sticky bool) error {
	if _, ok := catalog[code]; !ok {
		return fmt.Errorf("entra: AADSTS%d is not in the emulator's catalog (known: %v)", code, InjectableCodes())
	}
	if where < OnDeviceCode || where > OnDeviceCodeGrant {
		return fmt.Errorf("entra: unknown injection point %d", where)
	}
	s.mu.Lock()
	s.injections = append(s.injections, injection{code, where, sticky})
	s.mu.Unlock()
	return nil
}

// ClearInjections removes every injected error.
func (s *Server) ClearInjections() {
	s.mu.Lock()
	s.injections = nil
	s.mu.Unlock()
}

// takeInjectionLocked returns the injected code for a request at one of
// points, consuming non-sticky ones.
func (s *Server) takeInjectionLocked(points ...Where) (int, bool) {
	for i, inj := range s.injections {
		for _, p := range points {
			if inj.where == p {
				if !inj.sticky {
					s.injections = append(s.injections[:i], s.injections[i+1:]...)
				}
				return inj.code, true
			}
		}
	}
	return 0, false
}

// errorBody is Entra's error JSON.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

// errArgs fill the catalog's templates.
type errArgs struct {
	clientID, tenant, appName string
	issued                    time.Time
	limit                     time.Duration
	param                     string
}

func (s *Server) writeAAD(w http.ResponseWriter, r *http.Request, code int, a errArgs) {
	e, ok := catalog[code]
	if !ok {
		e = aadError{http.StatusBadRequest, "invalid_request", "Unknown error."}
	}
	now := s.now().UTC()
	trace, corr := newGUID(), r.Header.Get("client-request-id")
	if corr == "" {
		corr = newGUID()
	}
	issued := a.issued
	if issued.IsZero() {
		issued = now
	}
	desc := e.desc
	if strings.Contains(desc, "%[") { // explicit indexes: unused args are not reported as EXTRA
		desc = fmt.Sprintf(desc, a.clientID, a.tenant, a.appName, issued.UTC().Format("2006-01-02T15:04:05.0000000Z"), fmtDotNet(a.limit), a.param)
	}
	ts := now.Format("2006-01-02 15:04:05Z")
	body := errorBody{
		Error: e.err,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
			code, desc, trace, corr, ts),
		ErrorCodes:    []int{code},
		Timestamp:     ts,
		TraceID:       trace,
		CorrelationID: corr,
		ErrorURI:      s.url + "/error?code=" + fmt.Sprint(code),
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(body)
}

// fmtDotNet formats a duration as .NET's TimeSpan (d.hh:mm:ss).
func fmtDotNet(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	h, m, sec := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	return fmt.Sprintf("%d.%02d:%02d:%02d", days, h, m, sec)
}
