//go:build headless

package main

import (
	"errors"

	"emergencydesk/core/engine"
)

// startGUI in a headless build (`go build -tags headless`, for a server or
// kiosk that only runs `watch`): the binary leaves out Fyne, GLFW and the
// audio stack, which is most of its size and resident memory.
func startGUI(engine.Desk, guiOptions) error {
	return errors.New("this is a headless build of Emergency Desk (built with -tags headless): run `emergencydesk watch`")
}
