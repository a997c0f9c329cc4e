package auth

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// Explanation is what an authentication error means and how to fix it.
type Explanation struct {
	Code    int    // AADSTS code, 0 when none
	Error   string // OAuth error ("invalid_grant", …) when known
	Summary string // what happened, in plain words
	Fix     string // what the operator should do
	// Reauth means only a new device code sign-in (after any Fix) helps;
	// retrying the refresh is pointless.
	Reauth bool
	// Transient means retrying later may succeed on its own.
	Transient bool
}

// String is Summary plus Fix.
func (e Explanation) String() string {
	s := e.Summary
	if e.Code != 0 {
		s += fmt.Sprintf(" (AADSTS%d)", e.Code)
	}
	if e.Fix != "" {
		s += ". " + e.Fix
	}
	return s
}

// Error is the error type this package returns; its text never contains
// tokens.
type Error struct {
	Op          string // "sign-in", "refresh", …
	Explanation Explanation
	Detail      string // redacted, for the log
	cause       error
}

func (e *Error) Error() string {
	s := "auth: " + e.Op + ": " + e.Explanation.String()
	if e.Detail != "" {
		s += " [" + e.Detail + "]"
	}
	return s
}

// Unwrap exposes the cause for errors.Is (context.Canceled, …); its text
// may hold server output, so never print it: print the *Error.
func (e *Error) Unwrap() error { return e.cause }

// Sentinel errors.
var (
	ErrUnknownUser    = errors.New("auth: no such monitoring user")
	ErrReauthRequired = errors.New("auth: the monitoring user must sign in again")
)

type fix struct{ summary, fix string }

var aadFixes = map[int]fix{
	7000218: {"Public client flows are disabled on the app registration, so the device code sign-in cannot be completed",
		"In the Azure portal open App registrations > your app > Authentication, set \"Allow public client flows\" to Yes, save, then sign in again"},
	65001: {"Consent to the app's permissions has not been granted",
		"Have an administrator open App registrations > your app > API permissions and click \"Grant admin consent\", or sign in again and accept the consent prompt"},
	700082: {"The sign-in expired because it was not used for 90 days",
		"Sign the monitoring user in again (Add Monitoring User); keep the app running so the sign-in is refreshed"},
	70043: {"The sign-in expired because of a Conditional Access sign-in frequency policy",
		"Sign the monitoring user in again; ask your administrator to exclude the monitoring account from the sign-in frequency policy so alerts do not stop"},
	700084: {"The sign-in reached the maximum lifetime allowed by policy",
		"Sign the monitoring user in again; ask your administrator to check the token lifetime policy and the app's platform (it must be a public client, not a single-page app)"},
	50076: {"Multi-factor authentication is now required for the monitoring user",
		"Sign the monitoring user in again with the device code and complete the MFA prompt"},
	50079: {"The monitoring user must register for multi-factor authentication",
		"Have the monitoring user register MFA at https://aka.ms/mfasetup, then sign in again"},
	7000215: {"The client secret is wrong",
		"Create a new client secret in App registrations > your app > Certificates & secrets and paste its Value (not the Secret ID) in OAuth Settings"},
	7000222: {"The client secret has expired",
		"Create a new client secret in App registrations > your app > Certificates & secrets and paste its Value in OAuth Settings"},
	50173: {"The sign-in was revoked (password change or an administrator revoked sessions)",
		"Sign the monitoring user in again"},
	700016: {"The Client ID is not an app registered in this tenant",
		"Check the Client ID (Application ID) and Tenant ID in OAuth Settings and the cloud selected in Cloud settings"},
	90002:   {"The tenant was not found", "Check the Tenant ID in OAuth Settings and the cloud selected in Cloud settings"},
	9002313: {"The saved sign-in is no longer valid", "Sign the monitoring user in again"},
	70020:   {"The code expired before the sign-in was finished (codes last 15 minutes)", "Start the sign-in again and enter the new code promptly"},
	70018:   {"The sign-in code was not recognised", "Start the sign-in again"},
	70000:   {"The sign-in was declined on the verification page", "Start the sign-in again and choose Accept"},
}

// Codes whose fix is a new sign-in (or configuration, then a new sign-in).
var reauthCodes = map[int]bool{7000218: true, 65001: true, 700082: true, 70043: true, 700084: true,
	50076: true, 50079: true, 7000215: true, 7000222: true, 50173: true, 700016: true, 90002: true,
	9002313: true, 70020: true, 70018: true, 70000: true}

// entraError is Entra's error JSON.
type entraError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
}

var aadstsRE = regexp.MustCompile(`AADSTS(\d{4,9})`)

// Explain maps any error from this package (or from MSAL) to what it means
// and how to fix it. It is exported for diagnostics.
func Explain(err error) Explanation {
	if err == nil {
		return Explanation{}
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Explanation
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Explanation{Summary: "The operation was cancelled"}
	case errors.Is(err, context.DeadlineExceeded):
		return Explanation{Summary: "The sign-in service did not answer in time (or the code expired while waiting)",
			Fix: "Check the network connection; the app retries automatically", Transient: true}
	case errors.Is(err, ErrReauthRequired):
		return Explanation{Summary: "The monitoring user must sign in again", Fix: "Use Sign in again for this user", Reauth: true}
	}
	var call msalerrors.CallErr
	if errors.As(err, &call) {
		var ee entraError
		msg := call.Err.Error()
		if i := strings.Index(msg, "{"); i >= 0 {
			_ = json.Unmarshal([]byte(msg[i:]), &ee)
		}
		code := 0
		if len(ee.Codes) > 0 {
			code = ee.Codes[0]
		} else if m := aadstsRE.FindStringSubmatch(ee.Description); m != nil {
			code, _ = strconv.Atoi(m[1])
		}
		status := 0
		if call.Resp != nil {
			status = call.Resp.StatusCode
		}
		return explainOAuth(ee.Error, code, status)
	}
	var ij msalerrors.InvalidJsonErr
	if errors.As(err, &ij) {
		return Explanation{Summary: "The sign-in service sent a response the app could not read",
			Fix: "Check the Authority URL in Cloud settings and any proxy in between; the app retries automatically", Transient: true}
	}
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	if errors.As(err, &ua) || errors.As(err, &hn) || strings.Contains(err.Error(), "x509:") {
		return Explanation{Summary: "The sign-in service's TLS certificate is not trusted",
			Fix: "If a TLS-inspecting proxy is in use, add its CA certificate as the Extra CA bundle in Cloud settings", Transient: true}
	}
	var ne net.Error
	if errors.As(err, &ne) || strings.Contains(err.Error(), "server response error") {
		return Explanation{Summary: "The sign-in service could not be reached",
			Fix: "Check the network connection, proxy and firewall; the app retries automatically", Transient: true}
	}
	if strings.Contains(err.Error(), "no token found") || strings.Contains(err.Error(), "no account") {
		return Explanation{Summary: "No saved sign-in was found for this user", Fix: "Sign the monitoring user in again", Reauth: true}
	}
	return Explanation{Summary: "Signing in failed unexpectedly", Fix: "The app retries automatically; if it persists, run diagnostics", Transient: true}
}

func explainOAuth(oauthErr string, code, status int) Explanation {
	e := Explanation{Code: code, Error: oauthErr}
	if f, ok := aadFixes[code]; ok {
		e.Summary, e.Fix, e.Reauth = f.summary, f.fix, reauthCodes[code]
		return e
	}
	switch oauthErr {
	case "authorization_declined", "access_denied":
		e.Summary, e.Fix, e.Reauth = aadFixes[70000].summary, aadFixes[70000].fix, true
	case "expired_token":
		e.Summary, e.Fix, e.Reauth = aadFixes[70020].summary, aadFixes[70020].fix, true
	case "bad_verification_code":
		e.Summary, e.Fix, e.Reauth = aadFixes[70018].summary, aadFixes[70018].fix, true
	case "invalid_grant", "interaction_required", "consent_required", "login_required":
		e.Summary, e.Fix, e.Reauth = "The saved sign-in was refused", "Sign the monitoring user in again", true
	case "invalid_client", "unauthorized_client":
		e.Summary, e.Fix, e.Reauth = "The app registration refused the request", "Check the Client ID, Tenant ID and the app registration's Authentication settings", true
	default:
		e.Summary = "The sign-in service answered with an error"
		if status >= 500 || status == 429 {
			e.Summary = "The sign-in service is temporarily unavailable"
		}
		e.Fix, e.Transient = "The app retries automatically", true
	}
	if code != 0 && e.Summary != "" {
		e.Summary += fmt.Sprintf(" (%s)", oauthErr)
	}
	return e
}

// Long token-like runs: JWTs, refresh tokens, device codes.
var secretRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]*|[A-Za-z0-9._~+/-]{40,}=*`)

// redact removes anything token-like from s and keeps it to one short line.
func redact(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = secretRE.ReplaceAllString(s, "[redacted]")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// wrap turns any error into an *Error without token text.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	ex := Explain(err)
	detail := ""
	var call msalerrors.CallErr
	var ij msalerrors.InvalidJsonErr
	switch {
	case errors.As(err, &ij): // carries the raw token response: never show
	case errors.As(err, &call):
		if ex.Code == 0 && call.Resp != nil {
			detail = "HTTP " + strconv.Itoa(call.Resp.StatusCode)
		}
	case errors.Is(err, context.Canceled):
	default:
		detail = redact(err.Error())
	}
	return &Error{Op: op, Explanation: ex, Detail: detail, cause: err}
}
