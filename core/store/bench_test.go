package store

import (
	"fmt"
	"testing"
	"time"

	"emergencydesk/core/alert"
)

// BenchmarkInsertAlertsAndOffsets measures durable commits (WAL,
// synchronous=FULL: one fsync per transaction) of a batch plus its offset.
func BenchmarkInsertAlertsAndOffsets(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s, _ := openTemp(b)
			batch := make([]alert.Alert, size)
			var off int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range batch {
					batch[j] = sample(fmt.Sprintf("b%d-%d", i, j), t0.Add(time.Duration(off)*time.Millisecond))
					off++
				}
				news, err := s.InsertAlertsAndOffsets(ctx, batch, "hub", map[int32]int64{0: off})
				if err != nil || len(news) != size {
					b.Fatal(err, len(news))
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}

// BenchmarkList measures the history view's query on a 10,000-alert log.
func BenchmarkList(b *testing.B) {
	s, _ := openTemp(b)
	const n = 10000
	for i := 0; i < n; i += 500 {
		var batch []alert.Alert
		for j := i; j < i+500; j++ {
			batch = append(batch, sample(fmt.Sprint(j), t0.Add(time.Duration(j)*time.Second)))
		}
		if _, err := s.InsertAlertsAndOffsets(ctx, batch, "hub", map[int32]int64{0: int64(i + 500)}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < n; i += 2 {
		if err := s.Acknowledge(ctx, fmt.Sprint(i), "x", "", t0); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		f    Filter
	}{
		{"latest50", Filter{Limit: 50}},
		{"unacked50", Filter{Which: Unacknowledged, Limit: 50}},
		{"page50", Filter{Limit: 50, Before: t0.Add(5000 * time.Second)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				as, err := s.List(ctx, c.f)
				if err != nil || len(as) != 50 {
					b.Fatal(err, len(as))
				}
			}
		})
	}
}
