package diagnose

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"emergencydesk/core/config"
)

const reSignIn = "sign the monitoring user in again: Teams Integration → the user → Re-authenticate (device code sign-in)"

// aadFixes maps AADSTS codes to a summary and the fix (install guide and
// microsoft-contracts.md §1).
var aadFixes = map[int][2]string{
	7000218: {"public client flows are disabled on the app registration, so the device code sign-in and token refresh are refused",
		"Azure Portal → App registrations → your app → Authentication → Advanced settings → \"Allow public client flows\": set \"Enable the following mobile and desktop flows\" to Yes, Save; then " + reSignIn},
	65001: {"the monitoring user has not consented to the app's permissions",
		reSignIn + " and click Accept on the permissions page (no admin consent is needed for these delegated permissions)"},
	700082: {"the refresh token expired after 90 days without use", reSignIn},
	70043: {"the refresh token expired because of a Conditional Access sign-in frequency policy",
		reSignIn + "; to stop this recurring, exclude the dedicated monitoring account from the sign-in frequency policy (Entra ID → Conditional Access)"},
	700084: {"the refresh token reached its fixed lifetime (Conditional Access / token lifetime policy)", reSignIn},
	50076: {"multi-factor authentication is now required for the monitoring user",
		reSignIn + " and complete MFA on the phone or laptop used for the device code"},
	50079: {"the monitoring user must enroll in multi-factor authentication",
		"enroll the monitoring account in MFA (https://aka.ms/mfasetup), then " + reSignIn},
	7000215: {"the client secret is invalid (often the secret's ID was pasted instead of its Value)",
		"Azure Portal → App registrations → your app → Certificates & secrets: copy the secret's Value (not the Secret ID) into OAuth Settings → Client Secret"},
	7000222: {"the client secret has expired",
		"Client secret expired: Azure Portal → App registrations → your app → Certificates & secrets → + New client secret (24 months recommended); paste its Value into OAuth Settings → Client Secret and save"},
	50173: {"the monitoring user's sign-in was revoked (password changed or sessions revoked)", reSignIn},
	700016: {"the Client ID is not an app registration in this tenant",
		"check OAuth Settings → Client ID (Application (client) ID) and Tenant ID against the app registration's Overview page"},
	90002: {"the tenant was not found", "check OAuth Settings → Tenant ID (Directory (tenant) ID) and the cloud profile"},
}

var aadRE = regexp.MustCompile(`AADSTS(\d{5,7})`)

// ExplainAADSTS finds an AADSTS code in err and returns its summary and
// fix; ok is false when the error carries no known code.
func ExplainAADSTS(err error) (summary, fix string, ok bool) {
	if err == nil {
		return "", "", false
	}
	m := aadRE.FindStringSubmatch(err.Error())
	if m == nil {
		return "", "", false
	}
	code, _ := strconv.Atoi(m[1])
	f, ok := aadFixes[code]
	if !ok {
		return "sign-in failed with AADSTS" + m[1], "look the code up at https://login.microsoftonline.com/error?code=" + m[1] + "; then " + reSignIn, true
	}
	return fmt.Sprintf("AADSTS%d: %s", code, f[0]), f[1], true
}

// runIdentity runs the identity check of one user and returns its token
// when the Graph check may follow.
func (r *runner) runIdentity(ctx context.Context, id, title string, u config.User) (TokenInfo, bool) {
	var tok TokenInfo
	c := r.run(ctx, id, title, func(ctx context.Context) Check {
		if s := r.need(IDTLSLogin); s != "" {
			return Check{Status: Skip, Detail: s}
		}
		if !r.settingsOK {
			return Check{Status: Skip, Detail: "skipped: the settings are not valid (see " + IDSettings + ")"}
		}
		if r.deps.Tokens == nil {
			return Check{Status: Skip, Detail: "skipped: token checks are not available in this build"}
		}
		t, err := r.deps.Tokens.SilentToken(ctx, u)
		if t.AccessToken != "" {
			r.addSecret(t.AccessToken)
		}
		if err != nil {
			return r.explainTokenError(ctx, err)
		}
		tok = t
		return r.judgeToken(u, t)
	})
	return tok, (c.Status == Pass || c.Status == Warn) && tok.AccessToken != ""
}

func (r *runner) explainTokenError(ctx context.Context, err error) Check {
	if r.deps.ExplainAuth != nil {
		if s, f := r.deps.ExplainAuth(err); s != "" {
			return Check{Status: Fail, Detail: "a silent token could not be obtained: " + s, Fix: f}
		}
	}
	if s, f, ok := ExplainAADSTS(err); ok {
		return Check{Status: Fail, Detail: "a silent token could not be obtained: " + s, Fix: f}
	}
	if ctx.Err() != nil || isTimeout(err) {
		return Check{Status: Fail, Detail: fmt.Sprintf("the login service did not answer within %s", roundDur(r.opts.CheckTimeout)), Fix: guideFW443}
	}
	return Check{Status: Fail, Detail: "a silent token could not be obtained: " + err.Error(), Fix: reSignIn}
}

// judgeToken compares granted scopes with the Permissions tab and the
// refresh token's age with Refresh Token Expiration Minutes.
func (r *runner) judgeToken(u config.User, t TokenInfo) Check {
	granted := map[string]bool{}
	for _, s := range t.Scopes {
		for _, f := range strings.Fields(s) {
			f = strings.ToLower(f)
			if i := strings.LastIndex(f, "/"); i >= 0 { // https://graph.microsoft.com/Chat.Read
				f = f[i+1:]
			}
			granted[f] = true
		}
	}
	var missing []string
	for _, s := range r.cfg.GraphScopes() {
		if !granted[strings.ToLower(s)] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		var why []string
		for _, m := range missing {
			if n := config.ScopeNeeds[m]; n != "" {
				why = append(why, m+": "+n)
			}
		}
		d := fmt.Sprintf("the token was issued without %s (granted: %s)", strings.Join(missing, ", "), strings.Join(sortedKeys(granted), " "))
		if len(why) > 0 {
			d += "\n" + strings.Join(why, "\n")
		}
		return Check{Status: Fail, Detail: d,
			Fix: "Missing API permissions: Azure Portal → App registrations → your app → API permissions → + Add a permission → Microsoft Graph → Delegated: add " + strings.Join(missing, ", ") + " (the guide lists User.Read, Chat.Read, Chat.ReadBasic, ChatMessage.Read, openid, offline_access, profile); check them on the Permissions tab; then " + reSignIn + " so the user consents"}
	}
	now := r.deps.Now()
	detail := fmt.Sprintf("silent token OK for %s; scopes %s", userLabel(u), strings.Join(r.cfg.GraphScopes(), " "))
	if !t.ExpiresOn.IsZero() {
		detail += fmt.Sprintf("; access token valid until %s", t.ExpiresOn.UTC().Format(time.RFC3339))
	}
	if t.RefreshTokenIssued.IsZero() {
		return Check{Status: Pass, Detail: detail + "; refresh token age unknown"}
	}
	age := now.Sub(t.RefreshTokenIssued)
	limit := time.Duration(r.cfg.OAuth.RefreshTokenExpirationMinutes) * time.Minute
	detail += fmt.Sprintf("; refresh token %s old (renewed before %s)", fmtAge(age), fmtAge(limit))
	if limit > 0 && age > limit {
		return Check{Status: Warn, Detail: detail,
			Fix: "the refresh token is older than Refresh Token Expiration Minutes: automatic renewal is not happening (is the desk running?). Leave the desk running; if this persists, " + reSignIn}
	}
	return Check{Status: Pass, Detail: detail}
}

func fmtAge(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	}
	return d.Round(time.Minute).String()
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
