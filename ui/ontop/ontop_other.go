//go:build !windows && !(linux && !wayland)

package ontop

func pinX11(uintptr) error     { return nil }
func pinWindows(uintptr) error { return nil }
