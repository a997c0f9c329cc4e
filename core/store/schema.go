package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] moves the schema from version i to i+1. Append only; never
// edit a released step. The version is PRAGMA user_version.
var migrations = []string{
	// 0 → 1
	`CREATE TABLE alerts (
		id              TEXT PRIMARY KEY,      -- Teams message id
		chat_id         TEXT NOT NULL DEFAULT '',
		chat_type       TEXT NOT NULL DEFAULT '',
		web_url         TEXT NOT NULL DEFAULT '',
		caller_name     TEXT NOT NULL DEFAULT '',
		caller_id       TEXT NOT NULL DEFAULT '',
		number          TEXT NOT NULL DEFAULT '',
		location        TEXT NOT NULL DEFAULT '',
		text            TEXT NOT NULL DEFAULT '',
		created_at      TEXT NOT NULL DEFAULT '', -- UTC, fixed width, '' if unknown
		received_at     TEXT NOT NULL,
		sort_at         TEXT NOT NULL,            -- created_at, else received_at
		is_test         INTEGER NOT NULL DEFAULT 0,
		importance      TEXT NOT NULL DEFAULT '',
		monitoring_user TEXT NOT NULL DEFAULT '',
		source          TEXT NOT NULL DEFAULT 'live',
		raw             TEXT                      -- chat message JSON as received
	);
	CREATE INDEX alerts_sort ON alerts(sort_at DESC, id DESC);
	CREATE TABLE acknowledgements (
		alert_id TEXT PRIMARY KEY REFERENCES alerts(id) ON DELETE CASCADE,
		ack_by   TEXT NOT NULL,
		ack_at   TEXT NOT NULL,
		comment  TEXT NOT NULL DEFAULT ''
	);
	CREATE TABLE offsets (
		topic       TEXT NOT NULL,
		partition   INTEGER NOT NULL,
		next_offset INTEGER NOT NULL,
		PRIMARY KEY (topic, partition)
	);
	CREATE TABLE state (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);
	-- ids of pruned alerts, so a late re-delivery of an old call does not
	-- alert again after retention removed it.
	CREATE TABLE pruned (
		id      TEXT PRIMARY KEY,
		sort_at TEXT NOT NULL
	);`,
}

// SchemaVersion is the schema this build writes.
var SchemaVersion = len(migrations)

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return s.wrap("read schema version", err)
	}
	if v > SchemaVersion {
		return fmt.Errorf("alert log %s has schema version %d, newer than this version of Emergency Desk understands (%d): update the app", s.path, v, SchemaVersion)
	}
	for ; v < SchemaVersion; v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v+1))
			return err
		})
		if err != nil {
			return fmt.Errorf("alert log %s: migrate schema %d→%d: %w", s.path, v, v+1, err)
		}
	}
	return nil
}
