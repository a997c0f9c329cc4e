package ui

import (
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"emergencydesk/core/alert"
	"emergencydesk/core/engine"
	"emergencydesk/core/health"
	"emergencydesk/ui/internal/fakedesk"
)

type fakedeskDesk = fakedesk.Desk

func engineHealth(o health.Overall) engine.Event { return engine.HealthChanged{Health: o} }
func engineAck(id string) engine.Event {
	return engine.AlertAcknowledged{ID: id, Ack: alert.Ack{By: "someone"}}
}
func testTap(b *widget.Button) { test.Tap(b) }
