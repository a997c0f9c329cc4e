package store

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"emergencydesk/core/alert"
)

var ctx = context.Background()

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub dir?", "alerts.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)

func sample(id string, at time.Time) alert.Alert {
	return alert.Alert{
		ID: id, ChatID: "19:abc@thread.v2", ChatType: "group", WebURL: "https://teams/x/" + id,
		CallerName: "Alex Doe", CallerID: "u-1", Number: "911", Location: "1 Main St, Springfield",
		Text:      "Alex Doe has placed an Emergency Call to 911.\nLocation: 1 Main St, Springfield",
		CreatedAt: at, ReceivedAt: at.Add(time.Second), Importance: "high", MonitoringUser: "mon-1",
		Source: alert.SourceLive, Raw: json.RawMessage(`{"id":"` + id + `"}`),
	}
}

func TestRoundTripAndDedupeAcrossReopen(t *testing.T) {
	s, path := openTemp(t)
	a := sample("1700", t0)
	ok, err := s.InsertAlert(ctx, a)
	if err != nil || !ok {
		t.Fatalf("first insert: %v %v", ok, err)
	}
	got, err := s.Get(ctx, "1700")
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	jg, _ := json.Marshal(got)
	if string(ja) != string(jg) {
		t.Fatalf("round trip:\n got %s\nwant %s", jg, ja)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// After Close the WAL is checkpointed: the main file alone holds the alert.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("WAL not checkpointed on close: %d bytes", fi.Size())
	}
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	// Same message via another monitoring user: not new.
	b := sample("1700", t0)
	b.MonitoringUser = "mon-2"
	if ok, err := s2.InsertAlert(ctx, b); err != nil || ok {
		t.Fatalf("duplicate after reopen inserted=%v err=%v", ok, err)
	}
	news, err := s2.InsertAlertsAndOffsets(ctx, []alert.Alert{sample("1700", t0), sample("1701", t0), sample("1701", t0)}, "hub", map[int32]int64{0: 5})
	if err != nil || len(news) != 1 || news[0].ID != "1701" {
		t.Fatalf("batch: %v %+v", err, news)
	}
	if got, _ := s2.Get(ctx, "1700"); got.MonitoringUser != "mon-1" {
		t.Fatal("duplicate overwrote the first record")
	}
	if _, err := s2.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing id: %v", err)
	}
	if _, err := s2.InsertAlert(ctx, alert.Alert{}); err == nil || !strings.Contains(err.Error(), "no id") {
		t.Fatalf("empty id: %v", err)
	}
}

func TestOffsetsAndState(t *testing.T) {
	s, _ := openTemp(t)
	if m, err := s.LoadOffsets(ctx, "hub"); err != nil || len(m) != 0 {
		t.Fatalf("%v %v", m, err)
	}
	if err := s.SaveOffsets(ctx, "hub", map[int32]int64{0: 10, 1: 20}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveOffsets(ctx, "hub", map[int32]int64{1: 21}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveOffsets(ctx, "other", map[int32]int64{0: 99}); err != nil {
		t.Fatal(err)
	}
	m, err := s.LoadOffsets(ctx, "hub")
	if err != nil || len(m) != 2 || m[0] != 10 || m[1] != 21 {
		t.Fatalf("%v %v", m, err)
	}
	// A failing batch (empty id) commits neither alerts nor offsets.
	if _, err := s.InsertAlertsAndOffsets(ctx, []alert.Alert{sample("ok", t0), {}}, "hub", map[int32]int64{0: 11}); err == nil {
		t.Fatal("batch with bad alert accepted")
	}
	if m, _ := s.LoadOffsets(ctx, "hub"); m[0] != 10 {
		t.Fatal("offset committed without its batch")
	}
	if _, err := s.Get(ctx, "ok"); !errors.Is(err, ErrNotFound) {
		t.Fatal("alert committed from failed batch")
	}

	if _, ok, err := s.GetState(ctx, "k"); ok || err != nil {
		t.Fatal("unset state present")
	}
	for _, v := range []string{"v1", "v2"} {
		if err := s.SetState(ctx, "backfill/mon-1", v); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok, err := s.GetState(ctx, "backfill/mon-1"); !ok || err != nil || v != "v2" {
		t.Fatalf("%q %v %v", v, ok, err)
	}
	if err := s.DeleteState(ctx, "backfill/mon-1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.GetState(ctx, "backfill/mon-1"); ok {
		t.Fatal("deleted state present")
	}
}

func TestAcknowledgeAndList(t *testing.T) {
	s, _ := openTemp(t)
	for i := 0; i < 5; i++ {
		a := sample(fmt.Sprintf("m%d", i), t0.Add(time.Duration(i)*time.Minute))
		a.IsTest = i%2 == 1
		if i == 4 {
			a.CreatedAt = time.Time{} // unknown call time: sorted by receipt
			a.ReceivedAt = t0.Add(time.Hour)
		}
		if _, err := s.InsertAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(as []alert.Alert) string {
		var b []string
		for _, a := range as {
			b = append(b, a.ID)
		}
		return strings.Join(b, ",")
	}
	all, err := s.List(ctx, Filter{})
	if err != nil || ids(all) != "m4,m3,m2,m1,m0" {
		t.Fatalf("all: %s %v", ids(all), err)
	}
	at := t0.Add(2 * time.Hour)
	if err := s.Acknowledge(ctx, "m3", "desk officer", "responded", at); err != nil {
		t.Fatal(err)
	}
	if err := s.Acknowledge(ctx, "m3", "someone else", "again", at.Add(time.Minute)); err != nil {
		t.Fatalf("repeat ack: %v", err)
	}
	if err := s.Acknowledge(ctx, "zzz", "x", "", at); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "zzz") {
		t.Fatalf("unknown id: %v", err)
	}
	if err := s.Acknowledge(ctx, "m2", " ", "", at); err == nil {
		t.Fatal("ack without name accepted")
	}
	g, _ := s.Get(ctx, "m3")
	if g.Acknowledged == nil || g.Acknowledged.By != "desk officer" || g.Acknowledged.Comment != "responded" || !g.Acknowledged.At.Equal(at) {
		t.Fatalf("ack: %+v", g.Acknowledged)
	}
	for _, c := range []struct {
		f    Filter
		want string
	}{
		{Filter{Which: Unacknowledged}, "m4,m2,m1,m0"},
		{Filter{Which: Test}, "m3,m1"},
		{Filter{Which: NonTest}, "m4,m2,m0"},
		{Filter{Limit: 2}, "m4,m3"},
		{Filter{Before: t0.Add(3 * time.Minute), Limit: 2}, "m2,m1"},
		{Filter{Which: Unacknowledged, Before: t0.Add(3*time.Minute + time.Second)}, "m2,m1,m0"},
	} {
		got, err := s.List(ctx, c.f)
		if err != nil || ids(got) != c.want {
			t.Errorf("%+v: %s (%v), want %s", c.f, ids(got), err, c.want)
		}
	}
}

func TestExportCSV(t *testing.T) {
	s, _ := openTemp(t)
	a := sample("c1", t0)
	a.CallerName = "=HYPERLINK(\"http://evil\",\"x\")"
	a.Location = "+1 Main St"
	a.Text = "line1\nline2, \"quoted\""
	a.Number = "-911"
	a.MonitoringUser = "@mon"
	if _, err := s.InsertAlert(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Acknowledge(ctx, "c1", "\tBob", "=cmd|' /C calc'!A0", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertAlert(ctx, sample("c0", t0.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.ExportCSV(ctx, &buf, Filter{}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || strings.Join(recs[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("%d records, header %v", len(recs), recs[0])
	}
	row := map[string]string{}
	for i, h := range recs[0] {
		row[h] = recs[1][i]
	}
	want := map[string]string{
		"id": "c1", "caller_name": "'=HYPERLINK(\"http://evil\",\"x\")", "location": "'+1 Main St", "number": "'-911",
		"monitoring_user": "'@mon", "acknowledged_by": "'\tBob", "ack_comment": "'=cmd|' /C calc'!A0",
		"text": "line1\nline2, \"quoted\"", "created_at": "2025-03-04T05:06:07.123456789Z", "is_test": "false",
	}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("%s = %q, want %q", k, row[k], v)
		}
	}
	if recs[2][0] != "c0" || recs[2][3] != "Alex Doe" {
		t.Errorf("second row %v", recs[2])
	}
	for _, rec := range recs[1:] {
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("unsafe cell %q", cell)
			}
		}
	}
	buf.Reset()
	if err := s.ExportCSV(ctx, &buf, Filter{Which: Unacknowledged}); err != nil || strings.Count(buf.String(), "\nc") != 1 {
		t.Fatalf("filtered export: %v %q", err, buf.String())
	}
}

func TestPrune(t *testing.T) {
	s, _ := openTemp(t)
	now := t0.Add(100 * 24 * time.Hour)
	for i, age := range []int{1, 29, 31, 90} {
		id := fmt.Sprintf("p%d", i)
		if _, err := s.InsertAlert(ctx, sample(id, now.Add(-time.Duration(age)*24*time.Hour))); err != nil {
			t.Fatal(err)
		}
		if err := s.Acknowledge(ctx, id, "x", "", now); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Prune(ctx, 0, now); n != 0 || err != nil {
		t.Fatalf("retention 0 deleted %d (%v)", n, err)
	}
	n, err := s.Prune(ctx, 30, now)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d (%v)", n, err)
	}
	left, _ := s.List(ctx, Filter{})
	if len(left) != 2 || left[0].ID != "p0" || left[1].ID != "p1" {
		t.Fatalf("left %+v", left)
	}
	var acks int
	s.db.QueryRow(`SELECT count(*) FROM acknowledgements`).Scan(&acks)
	if acks != 2 {
		t.Fatalf("%d acknowledgements left, want 2 (cascade)", acks)
	}
	// A pruned call re-delivered late is not raised again.
	if ok, err := s.InsertAlert(ctx, sample("p3", now.Add(-90*24*time.Hour))); ok || err != nil {
		t.Fatalf("pruned alert re-inserted: %v %v", ok, err)
	}
}

func TestConcurrentReadersWhileWriting(t *testing.T) {
	s, _ := openTemp(t)
	const writes = 300
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	done := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				as, err := s.List(ctx, Filter{Limit: 1000})
				if err != nil {
					errc <- err
					return
				}
				if len(as) < last {
					errc <- fmt.Errorf("reader saw %d alerts after %d", len(as), last)
					return
				}
				last = len(as)
				if _, err := s.LoadOffsets(ctx, "hub"); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	for i := 0; i < writes; i++ {
		if _, err := s.InsertAlertsAndOffsets(ctx, []alert.Alert{sample(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second))}, "hub", map[int32]int64{0: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if as, _ := s.List(ctx, Filter{}); len(as) != writes {
		t.Fatalf("%d alerts", len(as))
	}
}

func TestLockedAndReadOnly(t *testing.T) {
	s, path := openTemp(t)
	if _, err := s.InsertAlert(ctx, sample("r1", t0)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second open: %v", err)
	}
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got, err := ro.Get(ctx, "r1"); err != nil || got.ID != "r1" {
		t.Fatalf("read-only get: %v", err)
	}
	if _, err := ro.InsertAlert(ctx, sample("r2", t0)); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only insert: %v", err)
	}
	// While the desk writes, the reader sees new alerts (WAL).
	if _, err := s.InsertAlert(ctx, sample("r3", t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Get(ctx, "r3"); err != nil {
		t.Fatalf("reader does not see new alert: %v", err)
	}
}

func TestCorruptAndForeignFiles(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, bytes.Repeat([]byte("not a database "), 400), 0o600)
	if _, err := Open(junk); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), junk) {
		t.Fatalf("junk: %v", err)
	}

	// A real log with damaged pages.
	path := filepath.Join(dir, "damaged.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		a := sample(fmt.Sprint(i), t0)
		a.Text = strings.Repeat("x", 500)
		s.InsertAlert(ctx, a)
	}
	s.Close()
	b, _ := os.ReadFile(path)
	for i := 4096 * 2; i < len(b)-4096; i += 4096 {
		copy(b[i+100:i+400], bytes.Repeat([]byte{0xA5}, 300))
	}
	os.WriteFile(path, b, 0o600)
	if _, err := Open(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("damaged: %v", err)
	}

	// A newer schema is refused, not downgraded.
	newer := filepath.Join(dir, "newer.db")
	s, err = Open(newer)
	if err != nil {
		t.Fatal(err)
	}
	s.db.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion+1))
	s.Close()
	if _, err := Open(newer); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("newer schema: %v", err)
	}
	if _, err := Open(""); err == nil {
		t.Fatal("empty path accepted")
	}
}

func TestSchemaIsPlainSQLite(t *testing.T) {
	s, _ := openTemp(t)
	var mode, v string
	s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	var sync int
	s.db.QueryRow(`PRAGMA synchronous`).Scan(&sync)
	s.db.QueryRow(`PRAGMA user_version`).Scan(&v)
	if mode != "wal" || sync != 2 || v != fmt.Sprint(SchemaVersion) {
		t.Fatalf("journal_mode=%s synchronous=%d user_version=%s", mode, sync, v)
	}
}
