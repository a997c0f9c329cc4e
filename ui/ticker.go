package ui

import (
	"time"

	"fyne.io/fyne/v2"
)

// everySecond runs f on the Fyne thread once a second until the returned
// channel is closed (countdowns, "how long ago" labels). A tick already
// queued when the channel closes is dropped.
func everySecond(f func()) chan struct{} {
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fyne.Do(func() {
					select {
					case <-stop:
					default:
						f()
					}
				})
			}
		}
	}()
	return stop
}
