// Package diagnose is the "Test integration" run: it walks the alert chain
// (settings → DNS → TCP/TLS → identity → Graph → Event Hub → end to end) and
// returns one pass/warn/fail/skip check per link, each with what was seen
// and the fix from the install guide, within a fixed time budget and
// without ever printing a secret.
package diagnose
