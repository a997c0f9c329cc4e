// Package e2e drives the real emergencydesk binary in demo mode under Xvfb,
// on a private D-Bus with a test StatusNotifierWatcher, notification server
// and gnome-keyring: the end-to-end test and the desktop benchmarks.
package e2e
