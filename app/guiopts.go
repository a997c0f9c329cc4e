package main

import "log/slog"

// guiOptions configure the desktop front end.
type guiOptions struct {
	Logger *slog.Logger
	// ShowMain opens the main window at start (otherwise tray only).
	ShowMain bool
	// NoSound disables the alarm output entirely (the setting can too).
	NoSound bool
	// OnStarted runs once the UI receives engine events (so a sign-in
	// started from it shows its device code in the dialog).
	OnStarted func()
}
