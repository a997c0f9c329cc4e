package engine_test

import (
	"slices"
	"testing"
	"time"

	"emergencydesk/core/config"
	"emergencydesk/core/engine"
	"emergencydesk/core/msemu"
)

// BenchmarkPostToAlert measures the latency from a Teams post in the
// emulator to the AlertRaised event, through Graph, the Event Hub over TLS
// + SASL, recognition and the durable alert log (target p99 < 50 ms for
// rich notifications). Fetched notifications meet Graph's 1 request per
// second per chat limit, so those posts are spaced 1.1 s apart.
func BenchmarkPostToAlert(b *testing.B) {
	for _, rich := range []bool{true, false} {
		name := map[bool]string{true: "rich", false: "fetched"}[rich]
		b.Run(name, func(b *testing.B) {
			r := newRig(b, msemu.Options{}, func(c *config.Config) { c.Subscription.RichNotifications = rich })
			r.signIn()
			r.healthy()
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if !rich && i > 0 {
					b.StopTimer()
					time.Sleep(1100 * time.Millisecond)
					b.StartTimer()
				}
				start := time.Now()
				if _, _, err := r.emu.PostEmergencyCall(i%2, "911", "Bench"); err != nil {
					b.Fatal(err)
				}
				r.next("alert", 20*time.Second, func(ev engine.Event) bool { _, ok := ev.(engine.AlertRaised); return ok })
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
