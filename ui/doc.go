// Package ui is everything Fyne: the tray, the main window with its
// settings tabs, the device-code dialog and the alert window. It talks only
// to the engine and never does network I/O.
package ui
