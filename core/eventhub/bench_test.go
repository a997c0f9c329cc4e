package eventhub

import (
	"context"
	"encoding/binary"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"emergencydesk/core/msemu/hub"
)

// benchValue is a plain (no resource data) Graph chat-message notification,
// about the size Graph writes to the hub.
var benchValue = []byte(`{"value":[{"subscriptionId":"7f105c7d-2dc5-4530-97cd-4e7ae6534c07","subscriptionExpirationDateTime":"2026-02-02T10:30:34.9097561-08:00","changeType":"created","resource":"chats('19:8b081ef6-4792-4def-b2c9-c363a1bf41d5_5031bb31-22c0-4f6f-9f73-91d34ab2b32d@unq.gbl.spaces')/messages('1612289765949')","resourceData":{"id":"1612289765949","@odata.type":"#Microsoft.Graph.chatMessage","@odata.id":"chats('19:8b081ef6-4792-4def-b2c9-c363a1bf41d5_5031bb31-22c0-4f6f-9f73-91d34ab2b32d@unq.gbl.spaces')/messages('1612289765949')"},"clientState":"secretClientState","tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95"}]}`)

func bareClient(b *testing.B, h *hub.Hub, at kgo.Offset) *kgo.Client {
	cfg := h.CA().ClientTLS()
	cfg.ServerName = h.Host()
	offs := map[int32]kgo.Offset{}
	for p := 0; p < h.Partitions(); p++ {
		offs[int32(p)] = at
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.Addr()), kgo.DialTLSConfig(cfg),
		kgo.SASL(plain.Auth{User: hub.User, Pass: h.ConnectionString()}.AsMechanism()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{h.HubName(): offs}))
	if err != nil {
		b.Fatal(err)
	}
	return cl
}

func produceN(b *testing.B, h *hub.Hub, n int) {
	const chunk = 2000
	recs := make([]hub.Record, 0, chunk)
	for i := 0; i < n; i++ {
		recs = append(recs, hub.Record{Partition: -1, Value: benchValue})
		if len(recs) == chunk || i == n-1 {
			if err := h.PublishRecords(context.Background(), recs...); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
}

// BenchmarkThroughput reads b.N pre-written notifications over TLS + SASL,
// first with a bare franz-go consumer (the ceiling), then with Consumer
// handing them off (and saving offsets) in batches.
func BenchmarkThroughput(b *testing.B) {
	h := newHub(b, hub.Options{Partitions: 2})
	produceN(b, h, b.N)
	ctx := context.Background()

	b.ResetTimer()
	start := time.Now()
	cl := bareClient(b, h, kgo.NewOffset().AtStart())
	for got := 0; got < b.N; {
		fs := cl.PollFetches(ctx)
		got += fs.NumRecords()
	}
	bare := time.Since(start)
	cl.Close()

	var n atomic.Int64
	done := make(chan struct{})
	c, err := New(Options{Conn: connTo(h), Store: NewMemOffsets(), Logger: quiet(), MissedWindow: time.Hour,
		Handler: func(_ context.Context, batch []Record) error {
			if n.Add(int64(len(batch))) == int64(b.N) {
				close(done)
			}
			return nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	start = time.Now()
	go c.Run(rctx)
	<-done
	ours := time.Since(start)
	cancel()
	b.StopTimer()

	bareRate := float64(b.N) / bare.Seconds()
	ourRate := float64(b.N) / ours.Seconds()
	b.ReportMetric(bareRate, "bare-rec/s")
	b.ReportMetric(ourRate, "handoff-rec/s")
	b.ReportMetric(100*ourRate/bareRate, "%-of-bare")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkLatency measures produce → hand-off latency, one record in
// flight at a time, for the bare consumer and for Consumer.
func BenchmarkLatency(b *testing.B) {
	h := newHub(b, hub.Options{Partitions: 2})
	ctx := context.Background()
	publish := func(i int) time.Time {
		k := make([]byte, 8)
		t := time.Now()
		binary.BigEndian.PutUint64(k, uint64(i))
		if err := h.PublishRecords(ctx, hub.Record{Partition: int32(i % 2), Key: k, Value: benchValue}); err != nil {
			b.Fatal(err)
		}
		return t
	}
	// Percentiles need samples whatever b.N the framework picks (each run
	// pays ~1 s of set-up, so -benchtime=1s gives b.N = 1).
	samples := max(b.N, 5000)
	measure := func(recv <-chan int) []time.Duration {
		lat := make([]time.Duration, 0, samples)
		for i := 0; i < samples; i++ {
			sent := publish(i)
			for got := range recv {
				if got == i {
					break
				}
			}
			lat = append(lat, time.Since(sent))
		}
		return lat
	}

	b.ResetTimer()
	// Bare franz-go.
	cl := bareClient(b, h, kgo.NewOffset().AtEnd())
	bctx, bcancel := context.WithCancel(ctx)
	recv := make(chan int, 1024)
	go func() {
		for bctx.Err() == nil {
			cl.PollFetches(bctx).EachRecord(func(r *kgo.Record) {
				if len(r.Key) == 8 {
					recv <- int(binary.BigEndian.Uint64(r.Key))
				}
			})
		}
	}()
	time.Sleep(500 * time.Millisecond) // let "at end" resolve (lazily)
	bareLat := measure(recv)
	bcancel()
	cl.Close()

	// Consumer.
	recv2 := make(chan int, 1024)
	c, err := New(Options{Conn: connTo(h), Store: NewMemOffsets(), Logger: quiet(), MissedWindow: -1,
		Handler: func(_ context.Context, batch []Record) error {
			for _, r := range batch {
				if len(r.Key) == 8 {
					recv2 <- int(binary.BigEndian.Uint64(r.Key))
				}
			}
			return nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	go c.Run(cctx)
	for c.Health().State != StateConnected && c.Health().State != StateConnecting {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	ourLat := measure(recv2)
	b.StopTimer()

	p := func(l []time.Duration, q float64) float64 {
		slices.Sort(l)
		return float64(l[int(q*float64(len(l)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(p(bareLat, 0.5), "bare-p50-ms")
	b.ReportMetric(p(bareLat, 0.99), "bare-p99-ms")
	b.ReportMetric(p(ourLat, 0.5), "handoff-p50-ms")
	b.ReportMetric(p(ourLat, 0.99), "handoff-p99-ms")
	b.ReportMetric(0, "ns/op")
}
