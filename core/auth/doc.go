// Package auth signs in the monitoring users with the device code flow and
// keeps their Microsoft Graph tokens alive for months: the MSAL token cache
// lives in the secret vault (written after every token response, so a
// rotated refresh token is never lost), a refresher renews access tokens
// ahead of expiry and the refresh token long before it can lapse, and every
// user has a token health that says, in plain words, what is wrong and how
// to fix it (Explain maps AADSTS codes to fixes).
//
// Why the public client: the device code grant is a public-client flow.
// MSAL's confidential client has no device code method at all, and Entra
// only lets an app redeem device codes without a credential when "Allow
// public client flows" is Yes on the app registration (else AADSTS7000218).
//
// The client secret: when configured it is kept in the vault under
// secrets.ClientSecret and is NOT sent by this package. The device code
// sign-in and every refresh are public-client requests, which carry no
// secret; sending one would make Entra treat the app as confidential. The
// secret is kept for the administrator's other tooling and checked by
// diagnostics; AADSTS7000215/7000222 (bad or expired secret) are still
// explained because a tenant policy or a confidential registration can
// produce them.
//
// Time: all expiry decisions compare wall-clock times (monotonic readings
// stripped), re-checked at least every WakeInterval, because Go timers do
// not advance while a laptop sleeps and a timer that fires late must not
// let a token lapse unnoticed.
//
// Tokens never appear in logs or error messages: errors are rebuilt from
// Entra's error code and description, and any other text is redacted.
package auth
