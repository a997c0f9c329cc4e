//go:build windows

package ontop

import "syscall"

var setWindowPos = syscall.NewLazyDLL("user32.dll").NewProc("SetWindowPos")

const (
	hwndTopmost   = ^uintptr(0) // (HWND)-1
	swpNoSize     = 0x0001
	swpNoMove     = 0x0002
	swpShowWindow = 0x0040
)

func pinWindows(hwnd uintptr) error {
	if r, _, err := setWindowPos.Call(hwnd, hwndTopmost, 0, 0, 0, 0, swpNoMove|swpNoSize|swpShowWindow); r == 0 {
		return err
	}
	return nil
}

func pinX11(uintptr) error { return nil }
