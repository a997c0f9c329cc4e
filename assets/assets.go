// Package assets embeds the tray icons, the app icon and the alarm sounds.
// Tray icons are PNG: fyne.io/systray on Linux shows nothing for SVG.
package assets

import _ "embed"

// Tray icons, one per state.
var (
	//go:embed tray-healthy.png
	TrayHealthy []byte
	//go:embed tray-degraded.png
	TrayDegraded []byte
	//go:embed tray-broken.png
	TrayBroken []byte
	//go:embed tray-alerting.png
	TrayAlerting []byte
	//go:embed tray-alerting-dim.png
	TrayAlertingDim []byte
	//go:embed tray-unconfigured.png
	TrayUnconfigured []byte
)

// Icon is the 256×256 app icon.
//
//go:embed icon.png
var Icon []byte

// Alarm is a 2-second two-tone siren (16-bit mono PCM WAV, 22,050 Hz),
// looped until an alert is acknowledged.
//
//go:embed alarm.wav
var Alarm []byte

// TestChime is played once for test calls (933).
//
//go:embed test-chime.wav
var TestChime []byte
