// Package engine is the one owner of the running chain: it builds auth,
// graph, eventhub, the alert pipeline and the store from settings and the
// vault, starts and stops them, restarts a failed part with backoff, and
// talks to any front end through events and commands (the Desk interface).
// It never touches a widget.
package engine
