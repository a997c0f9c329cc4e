// Package tray is the tray icon's state table (health level and alerting →
// PNG) and the tray menu built from the engine's state; it keeps no engine
// state of its own.
package tray
