// Package store is the durable alert log: one SQLite file (pure Go,
// modernc.org/sqlite) holding alerts, acknowledgements, consumer offsets and
// other resume state, written with WAL and synchronous=FULL so an alert is
// on disk before it is shown and before its offset counts as consumed. Any
// SQLite tool can open the file for an audit.
package store
