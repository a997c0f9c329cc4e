package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"emergencydesk/core/alert"

	"modernc.org/sqlite"
)

// Errors; test with errors.Is. Messages name the file.
var (
	ErrLocked   = errors.New("alert log is in use by another process")
	ErrCorrupt  = errors.New("alert log is damaged or not an alert log")
	ErrNotFound = errors.New("no such alert")
	ErrReadOnly = errors.New("alert log opened read-only")
)

// timeFormat is fixed width in UTC, so text order is time order.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// Store is an open alert log. It is safe for concurrent use; writes are
// serialised, reads run alongside them (WAL).
type Store struct {
	path     string
	db       *sql.DB
	lock     *os.File
	readOnly bool
	wmu      sync.Mutex // one writer at a time within this process
}

// Open opens (creating if needed) the alert log at path and takes an
// exclusive lock beside it (path + ".lock"), so two desks never share one
// log. SQLite tools may still read the file while it is open.
func Open(path string) (*Store, error) { return open(path, false) }

// OpenReadOnly opens an existing log for reading (export, audit) without
// the lock, alongside a running desk.
func OpenReadOnly(path string) (*Store, error) { return open(path, true) }

func open(path string, readOnly bool) (*Store, error) {
	if path == "" {
		return nil, errors.New("alert log: no file path given")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("alert log %s: %w", path, err)
	}
	s := &Store{path: abs, readOnly: readOnly}
	if readOnly {
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("alert log %s: %w", abs, err)
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
			return nil, fmt.Errorf("alert log %s: create folder: %w", abs, err)
		}
		lf, err := os.OpenFile(abs+".lock", os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("alert log %s: open lock file: %w", abs, err)
		}
		held, err := lockFile(lf)
		if err != nil {
			lf.Close()
			return nil, fmt.Errorf("alert log %s: lock: %w", abs, err)
		}
		if held {
			lf.Close()
			return nil, fmt.Errorf("%w: %s (lock %s.lock is held): close the other Emergency Desk first", ErrLocked, abs, abs)
		}
		s.lock = lf
	}
	db, err := sql.Open("sqlite", dsn(abs, readOnly))
	if err != nil {
		s.unlock()
		return nil, fmt.Errorf("alert log %s: %w", abs, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(4)
	s.db = db
	ctx := context.Background()
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check); err != nil {
		s.closeAll()
		return nil, s.wrap("check", err)
	}
	if check != "ok" {
		s.closeAll()
		return nil, fmt.Errorf("%w: %s fails its integrity check (%.200s): move it aside to start a fresh log, or restore a backup", ErrCorrupt, abs, check)
	}
	if readOnly {
		var v int
		if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil || v == 0 || v > SchemaVersion {
			s.closeAll()
			return nil, fmt.Errorf("%w: %s has schema version %d (this build reads 1–%d)", ErrCorrupt, abs, v, SchemaVersion)
		}
		return s, nil
	}
	if err := s.migrate(ctx); err != nil {
		s.closeAll()
		return nil, err
	}
	return s, nil
}

// dsn builds a SQLite URI for path with the durability settings applied to
// every pooled connection.
func dsn(abs string, readOnly bool) string {
	p := filepath.ToSlash(abs)
	if runtime.GOOS == "windows" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: p}).EscapedPath() + "?" + q.Encode()
}

// Path is the log's absolute file path.
func (s *Store) Path() string { return s.path }

// Close checkpoints the WAL into the main file (so the single file is
// complete for an auditor) and releases the lock.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	if !s.readOnly {
		s.wmu.Lock()
		_, _ = s.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		s.wmu.Unlock()
	}
	err := s.db.Close()
	s.db = nil
	s.unlock()
	if err != nil {
		return fmt.Errorf("alert log %s: close: %w", s.path, err)
	}
	return nil
}

func (s *Store) closeAll() {
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
	s.unlock()
}

func (s *Store) unlock() {
	if s.lock != nil {
		s.lock.Close() // closing releases the lock
		s.lock = nil
	}
}

// wrap turns SQLite's busy/corrupt codes into errors that name the file.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return fmt.Errorf("%w: %s: %s: another program holds a write lock on it (close it, e.g. an SQLite tool with an open transaction): %v", ErrLocked, s.path, op, err)
		case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
			return fmt.Errorf("%w: %s: %s: %v: move it aside to start a fresh log, or restore a backup", ErrCorrupt, s.path, op, err)
		case 8: // SQLITE_READONLY
			return fmt.Errorf("%w: %s: %s: %v", ErrReadOnly, s.path, op, err)
		}
	}
	return fmt.Errorf("alert log %s: %s: %w", s.path, op, err)
}

// tx runs fn in one write transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.readOnly {
		return fmt.Errorf("%w: %s", ErrReadOnly, s.path)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

const insertAlertSQL = `INSERT INTO alerts (id, chat_id, chat_type, web_url, caller_name, caller_id, number, location, text,
	created_at, received_at, sort_at, is_test, importance, monitoring_user, source, raw)
	SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
	WHERE NOT EXISTS (SELECT 1 FROM pruned WHERE id = ?1)
	ON CONFLICT(id) DO NOTHING`

func insertAlert(ctx context.Context, tx *sql.Tx, a alert.Alert) (bool, error) {
	if a.ID == "" {
		return false, errors.New("alert has no id (Teams message id)")
	}
	if a.ReceivedAt.IsZero() {
		a.ReceivedAt = time.Now()
	}
	sortAt := a.CreatedAt
	if sortAt.IsZero() {
		sortAt = a.ReceivedAt
	}
	if a.Source == "" {
		a.Source = alert.SourceLive
	}
	var raw any
	if len(a.Raw) > 0 {
		raw = string(a.Raw)
	}
	res, err := tx.ExecContext(ctx, insertAlertSQL, a.ID, a.ChatID, a.ChatType, a.WebURL, a.CallerName, a.CallerID,
		a.Number, a.Location, a.Text, fmtTime(a.CreatedAt), fmtTime(a.ReceivedAt), fmtTime(sortAt), a.IsTest,
		a.Importance, a.MonitoringUser, string(a.Source), raw)
	if err != nil {
		return false, fmt.Errorf("insert alert %s: %w", a.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 1 && a.Acknowledged != nil {
		if err := insertAck(ctx, tx, a.ID, *a.Acknowledged); err != nil {
			return false, err
		}
	}
	return n == 1, nil
}

func insertAck(ctx context.Context, tx *sql.Tx, id string, k alert.Ack) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO acknowledgements (alert_id, ack_by, ack_at, comment) VALUES (?, ?, ?, ?)
		ON CONFLICT(alert_id) DO NOTHING`, id, k.By, fmtTime(k.At), k.Comment)
	return err
}

// InsertAlert stores a; inserted is false when an alert with that id was
// already logged (or pruned), i.e. the call was already raised.
func (s *Store) InsertAlert(ctx context.Context, a alert.Alert) (inserted bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		inserted, err = insertAlert(ctx, tx, a)
		return err
	})
	return inserted, s.wrap("insert alert", err)
}

// InsertAlertsAndOffsets stores alerts and the consumer's next offsets in
// ONE transaction, so after a crash an offset is never ahead of its alerts.
// It returns the alerts that were new (not already logged), in input order;
// only those should be raised.
func (s *Store) InsertAlertsAndOffsets(ctx context.Context, alerts []alert.Alert, topic string, next map[int32]int64) (newAlerts []alert.Alert, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		newAlerts = newAlerts[:0]
		for _, a := range alerts {
			ok, err := insertAlert(ctx, tx, a)
			if err != nil {
				return err
			}
			if ok {
				newAlerts = append(newAlerts, a)
			}
		}
		return saveOffsets(ctx, tx, topic, next)
	})
	if err != nil {
		return nil, s.wrap("insert alerts and offsets", err)
	}
	return newAlerts, nil
}

func saveOffsets(ctx context.Context, tx *sql.Tx, topic string, next map[int32]int64) error {
	if len(next) == 0 {
		return nil
	}
	if topic == "" {
		return errors.New("offsets without a topic")
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO offsets (topic, partition, next_offset) VALUES (?, ?, ?)
		ON CONFLICT(topic, partition) DO UPDATE SET next_offset = excluded.next_offset`)
	if err != nil {
		return err
	}
	defer st.Close()
	for p, off := range next {
		if _, err := st.ExecContext(ctx, topic, p, off); err != nil {
			return fmt.Errorf("save offset %s/%d: %w", topic, p, err)
		}
	}
	return nil
}

// LoadOffsets returns the next offset to read per partition of topic
// (empty when none were saved). It implements core/eventhub's OffsetStore.
func (s *Store) LoadOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT partition, next_offset FROM offsets WHERE topic = ?`, topic)
	if err != nil {
		return nil, s.wrap("load offsets", err)
	}
	defer rows.Close()
	out := map[int32]int64{}
	for rows.Next() {
		var p int32
		var off int64
		if err := rows.Scan(&p, &off); err != nil {
			return nil, s.wrap("load offsets", err)
		}
		out[p] = off
	}
	return out, s.wrap("load offsets", rows.Err())
}

// SaveOffsets records the next offset to read per partition of topic (for
// records that carried no alert).
func (s *Store) SaveOffsets(ctx context.Context, topic string, next map[int32]int64) error {
	return s.wrap("save offsets", s.tx(ctx, func(tx *sql.Tx) error { return saveOffsets(ctx, tx, topic, next) }))
}

// Acknowledge records who acknowledged alert id. It is idempotent: a
// repeated acknowledgement keeps the first one and returns nil. An unknown
// id is ErrNotFound.
func (s *Store) Acknowledge(ctx context.Context, id, by, comment string, at time.Time) error {
	if strings.TrimSpace(by) == "" {
		return errors.New("acknowledge: say who acknowledges (by is empty)")
	}
	if at.IsZero() {
		at = time.Now()
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM alerts WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %q", ErrNotFound, id)
		} else if err != nil {
			return err
		}
		return insertAck(ctx, tx, id, alert.Ack{By: by, At: at, Comment: comment})
	})
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("acknowledge: %w", err)
	}
	return s.wrap("acknowledge", err)
}

const selectAlertSQL = `SELECT a.id, a.chat_id, a.chat_type, a.web_url, a.caller_name, a.caller_id, a.number, a.location, a.text,
	a.created_at, a.received_at, a.is_test, a.importance, a.monitoring_user, a.source, a.raw,
	k.ack_by, k.ack_at, k.comment
	FROM alerts a LEFT JOIN acknowledgements k ON k.alert_id = a.id`

type scanner interface{ Scan(...any) error }

func scanAlert(r scanner) (alert.Alert, error) {
	var a alert.Alert
	var created, received, source string
	var raw, by, at, comment sql.NullString
	err := r.Scan(&a.ID, &a.ChatID, &a.ChatType, &a.WebURL, &a.CallerName, &a.CallerID, &a.Number, &a.Location, &a.Text,
		&created, &received, &a.IsTest, &a.Importance, &a.MonitoringUser, &source, &raw, &by, &at, &comment)
	if err != nil {
		return a, err
	}
	a.CreatedAt, a.ReceivedAt, a.Source = parseTime(created), parseTime(received), alert.Source(source)
	if raw.Valid {
		a.Raw = json.RawMessage(raw.String)
	}
	if by.Valid {
		a.Acknowledged = &alert.Ack{By: by.String, At: parseTime(at.String), Comment: comment.String}
	}
	return a, nil
}

// Get returns alert id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (alert.Alert, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, selectAlertSQL+` WHERE a.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return a, s.wrap("get alert", err)
}

// Which selects alerts for List and ExportCSV.
type Which int

const (
	All Which = iota
	Unacknowledged
	Test    // test calls only (933 or a number marked test)
	NonTest // real calls only
)

// Filter selects alerts, newest first.
type Filter struct {
	Which Which
	// Limit caps the rows; 0 means no limit.
	Limit int
	// Before, when set, returns only alerts older than it (paging: pass
	// the oldest time of the previous page).
	Before time.Time
}

func (f Filter) query() (string, []any) {
	var where []string
	var args []any
	switch f.Which {
	case Unacknowledged:
		where = append(where, "k.alert_id IS NULL")
	case Test:
		where = append(where, "a.is_test = 1")
	case NonTest:
		where = append(where, "a.is_test = 0")
	}
	if !f.Before.IsZero() {
		where = append(where, "a.sort_at < ?")
		args = append(args, fmtTime(f.Before))
	}
	q := selectAlertSQL
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY a.sort_at DESC, a.id DESC"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	return q, args
}

// List returns the alerts f selects, newest first (by call time).
func (s *Store) List(ctx context.Context, f Filter) ([]alert.Alert, error) {
	var out []alert.Alert
	err := s.each(ctx, f, func(a alert.Alert) error { out = append(out, a); return nil })
	return out, err
}

func (s *Store) each(ctx context.Context, f Filter, fn func(alert.Alert) error) error {
	q, args := f.query()
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return s.wrap("list alerts", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return s.wrap("list alerts", err)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return s.wrap("list alerts", rows.Err())
}

// Prune deletes alerts (and their acknowledgements) older than
// retentionDays before now; 0 keeps everything. Pruned ids are remembered
// so a late re-delivery does not raise them again. It returns how many
// alerts were deleted.
func (s *Store) Prune(ctx context.Context, retentionDays int, now time.Time) (int64, error) {
	if retentionDays <= 0 {
		return 0, nil
	}
	cutoff := fmtTime(now.Add(-time.Duration(retentionDays) * 24 * time.Hour))
	// Tombstones outlive the longest hub retention (90 days) by far.
	tombCutoff := fmtTime(now.Add(-time.Duration(retentionDays+365) * 24 * time.Hour))
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO pruned (id, sort_at) SELECT id, sort_at FROM alerts WHERE sort_at < ?`, cutoff); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM alerts WHERE sort_at < ?`, cutoff)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM pruned WHERE sort_at < ?`, tombCutoff)
		return err
	})
	return n, s.wrap("prune", err)
}

// GetState returns a resume value (e.g. a user's last-seen message time);
// ok is false when it was never set.
func (s *Store) GetState(ctx context.Context, key string) (value string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT value FROM state WHERE key = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, s.wrap("get state", err)
	}
	return value, true, nil
}

// SetState stores a resume value durably.
func (s *Store) SetState(ctx context.Context, key, value string) error {
	return s.wrap("set state", s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	}))
}

// DeleteState removes a resume value.
func (s *Store) DeleteState(ctx context.Context, key string) error {
	return s.wrap("delete state", s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM state WHERE key = ?`, key)
		return err
	}))
}
