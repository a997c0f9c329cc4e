package engine

import (
	"testing"
	"time"

	"emergencydesk/core/alert"
)

func TestBusNeverDropsForASlowSubscriber(t *testing.T) {
	b := newBus()
	slow, cancelSlow := b.subscribe()
	fast, cancelFast := b.subscribe()
	defer cancelSlow()
	defer cancelFast()
	const n = 10000
	done := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			b.publish(AlertRaised{Alert: alert.Alert{ID: string(rune('a' + i%26))}})
		}
		close(done)
	}()
	select {
	case <-done: // publishing finished while nobody read: it never blocks
	case <-time.After(5 * time.Second):
		t.Fatal("publish blocked on subscribers that do not read")
	}
	for _, ch := range []<-chan Event{fast, slow} {
		for i := 0; i < n; i++ {
			ev := <-ch
			if a, ok := ev.(AlertRaised); !ok || a.Alert.ID != string(rune('a'+i%26)) {
				t.Fatalf("event %d out of order or wrong: %#v", i, ev)
			}
		}
	}
	cancelSlow()
	if _, ok := <-slow; ok {
		t.Fatal("channel not closed after cancel")
	}
	b.publish(HealthChanged{})
	if ev := <-fast; ev == nil {
		t.Fatal("remaining subscriber lost an event")
	}
}
