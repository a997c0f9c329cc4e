//go:build !headless

package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/systray"

	"emergencydesk/assets"
	"emergencydesk/core/engine"
	"emergencydesk/ui"
	"emergencydesk/ui/notify"
	"emergencydesk/ui/sound"
)

// appID matches FyneApp.toml's ID.
const appID = "io.emergencydesk.desk"

// appName is the name notifications and the tray carry.
const appName = "Emergency Desk"

// guiOptions configure the desktop front end.
// startGUI runs the desktop app on desk until the user quits (confirmed
// from the tray). It must be called on the main goroutine.
func startGUI(desk engine.Desk, opts guiOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	a := app.NewWithID(appID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	o := ui.Options{
		Logger:   log,
		Notifier: notify.New(appName, assets.Icon, log),
		Version:  version,
	}
	var player *sound.Player
	if !opts.NoSound {
		player = sound.New(log)
		o.Sound = player
	}
	if d, ok := a.(desktop.App); ok {
		o.Tray = d
		o.Tooltip = func(s string) {
			// fyne has no tooltip API; the SNI item's ToolTip and Title
			// carry the one-line reason.
			systray.SetTooltip(s)
			systray.SetTitle(appName + ": " + s)
		}
	} else {
		log.Warn("no system tray on this platform: keep the main window open")
		opts.ShowMain = true
	}
	u := ui.New(a, desk, o)
	if o.Tray != nil {
		o.Tray.(desktop.App).SetSystemTrayWindow(u.MainWindow())
	}
	u.Start(opts.ShowMain)
	if opts.OnStarted != nil {
		opts.OnStarted()
	}
	// A session logout or service stop sends SIGTERM: quit through the
	// normal path so the engine closes the alert log cleanly.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	ran := make(chan struct{})
	defer close(ran)
	go func() {
		select {
		case s := <-sig:
			log.Info("quitting on signal", "signal", s.String())
			fyne.Do(a.Quit)
		case <-ran:
		}
	}()
	a.Run()
	u.Stop()
	if player != nil {
		player.StopAlarm()
	}
	return nil
}
