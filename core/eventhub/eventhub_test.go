package eventhub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"emergencydesk/core/msemu/hub"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newHub(t testing.TB, o hub.Options) *hub.Hub {
	t.Helper()
	o.Logger = quiet()
	h, err := hub.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func connTo(h *hub.Hub) Conn {
	return Conn{ConnString: h.ConnectionString(), HubName: h.HubName(), Bootstrap: h.Addr(), ExtraCAPEM: h.CA().PEM(), ClientID: "test-desk"}
}

func notification(i int) []byte {
	return fmt.Appendf(nil, `{"value":[{"subscriptionId":"s1","changeType":"created","clientState":"c","resource":"chats('19:a@unq.gbl.spaces')/messages('%d')","resourceData":{"id":"%d"}}]}`, i, i)
}

// collector is a Handler that remembers every record it was given.
type collector struct {
	mu     sync.Mutex
	seen   map[string]Record // by value
	calls  int
	before func(batch []Record) error // optional: runs first, may fail
	ch     chan struct{}
}

func newCollector() *collector {
	return &collector{seen: map[string]Record{}, ch: make(chan struct{}, 1)}
}

func (c *collector) handle(ctx context.Context, batch []Record) error {
	c.mu.Lock()
	c.calls++
	before := c.before
	c.mu.Unlock()
	if before != nil {
		if err := before(batch); err != nil {
			return err
		}
	}
	c.mu.Lock()
	for _, r := range batch {
		c.seen[string(r.Value)] = r
	}
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func (c *collector) get(v []byte) (Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.seen[string(v)]
	return r, ok
}

func (c *collector) waitFor(t *testing.T, n int, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for c.count() < n {
		select {
		case <-c.ch:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("got %d records, want %d", c.count(), n)
		}
	}
}

// run starts a consumer and returns a stop function that waits for Run.
func run(t *testing.T, o Options) (*Consumer, func()) {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet()
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return c, stop
}

func publish(t *testing.T, h *hub.Hub, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := from; i < to; i++ {
		if err := h.Publish(ctx, nil, notification(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func waitHealth(t *testing.T, c *Consumer, d time.Duration, ok func(Health) bool) Health {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		h := c.Health()
		if ok(h) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("health stuck at %+v", h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTwoDesksBothSeeEveryRecord(t *testing.T) {
	h := newHub(t, hub.Options{Partitions: 4})
	a, b := newCollector(), newCollector()
	ca, _ := run(t, Options{Conn: connTo(h), Store: NewMemOffsets(), Handler: a.handle})
	cb, _ := run(t, Options{Conn: connTo(h), Store: NewMemOffsets(), Handler: b.handle})
	for _, c := range []*Consumer{ca, cb} {
		waitHealth(t, c, 10*time.Second, func(h Health) bool { return h.State == StateConnecting || h.State == StateConnected })
	}
	// Let both desks finish resolving their start (a first start reads
	// the last hour, so even early records would be seen).
	publish(t, h, 0, 60)
	a.waitFor(t, 60, 10*time.Second)
	b.waitFor(t, 60, 10*time.Second)
	parts := map[int32]bool{}
	for i := 0; i < 60; i++ {
		r, ok := b.get(notification(i))
		if _, okA := a.get(notification(i)); !ok || !okA {
			t.Fatalf("record %d missing (desk A %v, desk B %v)", i, okA, ok)
		}
		parts[r.Partition] = true
	}
	if len(parts) != 4 {
		t.Errorf("records came from partitions %v, want all 4", parts)
	}
	if ca.GroupID() != "" || !strings.Contains(ModeDescription(), "every partition") {
		t.Error("group-less mode not described")
	}
}

func TestCrashBetweenReceiveAndSaveLosesNothing(t *testing.T) {
	h := newHub(t, hub.Options{Partitions: 2})
	store := NewFileOffsets(filepath.Join(t.TempDir(), "offsets.json"))
	publish(t, h, 0, 20)

	// Desk 1 receives records and "crashes" before recording them: the
	// handler cancels the run mid-batch and fails.
	first := newCollector()
	var received []Record
	var stop1 func()
	crashed := make(chan struct{})
	var once sync.Once
	first.before = func(batch []Record) error {
		received = append(received, batch...)
		once.Do(func() { close(crashed) })
		return errors.New("killed")
	}
	_, stop1 = run(t, Options{Conn: connTo(h), Store: store, Handler: first.handle})
	select {
	case <-crashed:
	case <-time.After(10 * time.Second):
		t.Fatal("desk 1 never received records")
	}
	stop1()
	if len(received) == 0 {
		t.Fatal("nothing received before the crash")
	}

	// Desk 1 again, same store: everything, including what it had
	// received, is delivered; a panicking handler is retried too.
	second := newCollector()
	panicked := false
	second.before = func([]Record) error {
		if !panicked {
			panicked = true
			panic("boom")
		}
		return nil
	}
	_, stop2 := run(t, Options{Conn: connTo(h), Store: store, Handler: second.handle})
	second.waitFor(t, 20, 15*time.Second)
	stop2()
	for _, r := range received {
		if got, ok := second.get(r.Value); !ok || got.Offset != r.Offset || got.Partition != r.Partition {
			t.Fatalf("record p%d@%d received before the crash was not redelivered", r.Partition, r.Offset)
		}
	}
	offs, err := store.LoadOffsets(context.Background(), h.HubName())
	if err != nil {
		t.Fatal(err)
	}
	end, _ := h.EndOffsets(context.Background())
	for p, e := range end {
		if offs[p] != e {
			t.Errorf("partition %d saved at %d, end %d", p, offs[p], e)
		}
	}

	// A third start resumes exactly: nothing is redelivered.
	third := newCollector()
	run(t, Options{Conn: connTo(h), Store: store, Handler: third.handle})
	publish(t, h, 100, 101)
	third.waitFor(t, 1, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	if third.count() != 1 {
		t.Fatalf("resumed start redelivered %d records, want only the new one", third.count()-1)
	}
}

func TestOutageTenSecondsResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s outage")
	}
	h := newHub(t, hub.Options{Partitions: 2})
	col := newCollector()
	var hmu sync.Mutex
	var states []State
	c, _ := run(t, Options{Conn: connTo(h), Store: NewMemOffsets(), Handler: col.handle,
		OnHealth: func(h Health) { hmu.Lock(); states = append(states, h.State); hmu.Unlock() }})
	publish(t, h, 0, 10)
	col.waitFor(t, 10, 10*time.Second)
	waitHealth(t, c, 5*time.Second, func(h Health) bool { return h.State == StateConnected })

	h.Stop()
	publish(t, h, 10, 20) // Graph keeps writing; lands in the hub
	degraded := waitHealth(t, c, 9*time.Second, func(h Health) bool { return h.State == StateDegraded })
	if degraded.Problem.Kind != KindNetwork || !strings.Contains(degraded.Problem.Fix, "9093") {
		t.Errorf("outage reported as %+v", degraded.Problem)
	}
	time.Sleep(10 * time.Second)
	if col.count() != 10 {
		t.Fatalf("records arrived during the outage: %d", col.count())
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	col.waitFor(t, 20, 40*time.Second)
	waitHealth(t, c, 10*time.Second, func(h Health) bool { return h.State == StateConnected })
	if r, _ := col.get(notification(15)); r.MissedWhileOffline {
		t.Error("a record from a hub outage (desk running) is flagged missed while offline")
	}
	if c.Health().LastRecord.IsZero() {
		t.Error("LastRecord not set")
	}
	hmu.Lock()
	defer hmu.Unlock()
	if len(states) < 3 {
		t.Errorf("health callbacks %v, want connecting→connected→degraded→connected", states)
	}
}

func TestWrongKeyAndBasicTierExplainFix(t *testing.T) {
	good := newHub(t, hub.Options{})
	basic := newHub(t, hub.Options{Basic: true, Namespace: "basic-ns"})
	wrong := connTo(good)
	wrong.ConnString = strings.Replace(wrong.ConnString, "SharedAccessKey=", "SharedAccessKey=AAAA", 1)
	for name, cn := range map[string]Conn{"wrong key": wrong, "basic tier": connTo(basic)} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			_, err := Probe(ctx, cn, nil, quiet())
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindAuth || e.Fix != FixAuth {
				t.Fatalf("probe: %v (%+v)", err, e)
			}
			if strings.Contains(err.Error(), cn.ConnString) || strings.Contains(err.Error(), "SharedAccessKey=") {
				t.Fatal("error reveals the connection string")
			}
			col := newCollector()
			c, _ := run(t, Options{Conn: cn, Store: NewMemOffsets(), Handler: col.handle})
			hl := waitHealth(t, c, 15*time.Second, func(h Health) bool { return h.State == StateFailed })
			if hl.Problem.Kind != KindAuth || !strings.Contains(hl.Reason(), "Basic-tier namespace has no Kafka endpoint") {
				t.Fatalf("health %+v", hl)
			}
		})
	}
}

func TestEntityPathMismatchRefusedBeforeConnecting(t *testing.T) {
	h := newHub(t, hub.Options{HubName: "teams-events"})
	cn := connTo(h)
	cn.HubName = "other-hub"
	cn.Bootstrap = "127.0.0.1:1" // would fail loudly if dialled
	_, err := New(Options{Conn: cn, Store: NewMemOffsets(), Handler: newCollector().handle})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindConnString || !strings.Contains(e.Summary, `"teams-events"`) {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), h.ConnectionString()) {
		t.Fatal("error reveals the key")
	}
}

func TestUnknownTopicTLSAndNetworkProblems(t *testing.T) {
	h := newHub(t, hub.Options{NamespaceKey: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	noEntity := connTo(h)
	noEntity.HubName = "teams-evnets"
	_, err := Probe(ctx, noEntity, nil, quiet())
	if p := Classify(err); p.Kind != KindTopic || !strings.Contains(p.Fix, "Event Hub Name") {
		t.Errorf("unknown hub: %+v (%v)", p, err)
	}

	untrusted := connTo(h)
	untrusted.ExtraCAPEM = nil
	_, err = Probe(ctx, untrusted, nil, quiet())
	if p := Classify(err); p.Kind != KindTLS || !strings.Contains(p.Fix, "extra CA bundle") {
		t.Errorf("untrusted certificate: %+v (%v)", p, err)
	}

	closed := connTo(h)
	closed.Bootstrap = "127.0.0.1:1"
	_, err = Probe(ctx, closed, nil, quiet())
	if p := Classify(err); p.Kind != KindNetwork || !strings.Contains(p.Fix, "9093") {
		t.Errorf("closed port: %+v (%v)", p, err)
	}
}

func TestMalformedRecordsSkippedPartitionContinues(t *testing.T) {
	h := newHub(t, hub.Options{Partitions: 1})
	ctx := context.Background()
	bad := [][]byte{[]byte("not json"), {0xff, 0xfe, '{', '}'}, []byte(`{"foo":1}`), []byte(`{"value":"x"}`)}
	for _, v := range bad {
		if err := h.PublishRecords(ctx, hub.Record{Partition: 0, Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, h, 0, 3)
	store := NewMemOffsets()
	col := newCollector()
	run(t, Options{Conn: connTo(h), Store: store, Handler: col.handle})
	col.waitFor(t, 3, 10*time.Second)
	time.Sleep(100 * time.Millisecond)
	if col.count() != 3 {
		t.Fatalf("handler got %d records, want the 3 valid ones", col.count())
	}
	offs, _ := store.LoadOffsets(ctx, h.HubName())
	if offs[0] != 7 {
		t.Fatalf("saved offset %d, want 7 (past the malformed records)", offs[0])
	}
}

func TestMalformed(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want string
	}{
		{`{"value":[{"changeType":"created"}]}`, ""},
		{" \n{ \"value\" : [] }\n", ""},
		{"", "empty"},
		{"[1,2]", "not a JSON object"},
		{"\xff{}", "not valid UTF-8"},
		{`{"values":[]}`, "no \"value\" array"},
		{`{"value":{}}`, "not an array"},
		{`{"value":[` + strings.Repeat(" ", MaxRecordBytes) + `]}`, "larger than 1 MiB"},
	} {
		got := Malformed([]byte(tc.v))
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("Malformed(%.40q) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestFirstStartMissedWindowThenResume(t *testing.T) {
	h := newHub(t, hub.Options{Partitions: 2})
	ctx := context.Background()
	now := time.Now()
	if err := h.PublishRecords(ctx,
		hub.Record{Partition: 0, Value: []byte(`{"value":["2h"]}`), Timestamp: now.Add(-2 * time.Hour)},
		hub.Record{Partition: 0, Value: []byte(`{"value":["30m"]}`), Timestamp: now.Add(-30 * time.Minute)},
		hub.Record{Partition: 1, Value: []byte(`{"value":["90m"]}`), Timestamp: now.Add(-90 * time.Minute)},
		hub.Record{Partition: 1, Value: []byte(`{"value":["5m"]}`), Timestamp: now.Add(-5 * time.Minute)},
	); err != nil {
		t.Fatal(err)
	}
	store := NewMemOffsets()
	col := newCollector()
	_, stop := run(t, Options{Conn: connTo(h), Store: store, Handler: col.handle, MissedWindow: time.Hour})
	col.waitFor(t, 2, 10*time.Second)
	for _, v := range []string{`{"value":["30m"]}`, `{"value":["5m"]}`} {
		if r, ok := col.get([]byte(v)); !ok || !r.MissedWhileOffline {
			t.Errorf("%s: seen %v, missed-while-offline %v", v, ok, r.MissedWhileOffline)
		}
	}
	publish(t, h, 0, 1)
	col.waitFor(t, 3, 10*time.Second)
	if r, _ := col.get(notification(0)); r.MissedWhileOffline {
		t.Error("a live record is flagged missed while offline")
	}
	if col.count() != 3 {
		t.Errorf("records outside the window were delivered: %d", col.count())
	}
	stop()

	// Later starts resume exactly, whatever the window.
	again := newCollector()
	run(t, Options{Conn: connTo(h), Store: store, Handler: again.handle, MissedWindow: 24 * time.Hour})
	publish(t, h, 1, 2)
	again.waitFor(t, 1, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	if again.count() != 1 {
		t.Fatalf("resume redelivered or skipped: %d records", again.count())
	}
}

func TestAgedOutOffsetResumesAtOldest(t *testing.T) {
	h := newHub(t, hub.Options{Partitions: 1})
	ctx := context.Background()
	publish(t, h, 0, 5)
	store := NewMemOffsets()
	store.SaveOffsets(ctx, h.HubName(), map[int32]int64{0: 1})
	if err := h.Truncate(ctx, 0, 3); err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	run(t, Options{Conn: connTo(h), Store: store, Handler: col.handle})
	col.waitFor(t, 2, 10*time.Second)
	for i := 3; i < 5; i++ {
		if _, ok := col.get(notification(i)); !ok {
			t.Errorf("record %d missing", i)
		}
	}
}

func TestProbeLag(t *testing.T) {
	h := newHub(t, hub.Options{Partitions: 2})
	ctx := context.Background()
	h.PublishRecords(ctx, hub.Record{Partition: 0, Value: notification(0)}, hub.Record{Partition: 0, Value: notification(1)}, hub.Record{Partition: 1, Value: notification(2)})
	store := NewMemOffsets()
	store.SaveOffsets(ctx, h.HubName(), map[int32]int64{0: 1})
	res, err := Probe(ctx, connTo(h), store, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if res.PartitionCount != 2 || res.EndOffsets[0] != 2 || res.Lag[0] != 1 || res.Lag[1] != 1 || res.ServerName != h.Host() {
		t.Fatalf("%+v", res)
	}
}
