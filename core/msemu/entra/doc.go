// Package entra is the emulated Microsoft Entra ID (Azure AD) v2.0 endpoint:
// an HTTPS server on 127.0.0.1 that unmodified MSAL Go completes device code
// sign-in and silent refresh against, with Entra's error JSON (AADSTS codes)
// and error injection, so tests meet the failures real users hit.
//
// Behaviour that matters to clients:
//   - Device code grant per RFC 8628: authorization_pending until a person
//     approves at /devicelogin (or a test calls Approve), slow_down when
//     Options.EnforceInterval is set and the client polls faster than
//     interval, expired_token after expires_in (900 s by default),
//     authorization_declined after Decline, bad_verification_code for an
//     unknown device_code.
//   - Refresh grant rotates the refresh token. The old refresh token stops
//     working immediately after use unless Options.RefreshTokenGrace is set
//     (then it keeps working for that long), which is stricter than real
//     Entra and catches clients that fail to persist the newest token.
//   - A refresh token unused for Options.RefreshTokenMaxInactive (90 days by
//     default) fails with AADSTS700082; RevokeRefreshTokens makes a user's
//     tokens fail with AADSTS50173; Options.SignInFrequency makes sessions
//     older than that fail with AADSTS70043.
//   - Access tokens are emutoken JWTs (oid, tid, preferred_username, name,
//     scp, aud Graph); id_token is an unsigned JWT and client_info the
//     base64url {"uid","utid"} pair MSAL keys accounts on.
//
// Time comes from Options.Clock plus Advance, so tests fast-forward days.
package entra
