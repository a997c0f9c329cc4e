// Command fynebaseline is the smallest Fyne tray app (a tray menu and, with
// -window, one hidden window): the idle benchmark runs it beside Emergency
// Desk to show the floor that Fyne itself sets under Xvfb.

package main

import (
	"flag"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

func main() {
	win := flag.Bool("window", false, "create a hidden window")
	flag.Parse()
	a := app.NewWithID("x.y")
	if d, ok := a.(desktop.App); ok {
		d.SetSystemTrayMenu(fyne.NewMenu("x", fyne.NewMenuItem("a", nil)))
	}
	if *win {
		w := a.NewWindow("x")
		w.SetContent(widget.NewLabel("hello"))
		w.Resize(fyne.NewSize(400, 300))
	}
	go func() { time.Sleep(time.Hour) }()
	a.Run()
}
