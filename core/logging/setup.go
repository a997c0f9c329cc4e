package logging

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Options configures Setup.
type Options struct {
	File   string     // rotating log file; "" logs to Stderr only
	Stderr io.Writer  // nil: os.Stderr
	Level  slog.Level // minimum level
	JSON   bool       // JSON lines on stderr (the file is always JSON)
}

// Setup builds the redacting logger and returns it with a closer for the
// file.
func Setup(o Options) (*slog.Logger, io.Closer, error) {
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	hopts := &slog.HandlerOptions{Level: o.Level}
	var errH slog.Handler
	if o.JSON {
		errH = slog.NewJSONHandler(o.Stderr, hopts)
	} else {
		errH = slog.NewTextHandler(o.Stderr, hopts)
	}
	handlers := []slog.Handler{errH}
	var closer io.Closer = io.NopCloser(nil)
	if o.File != "" {
		if err := os.MkdirAll(filepath.Dir(o.File), 0o700); err != nil {
			return nil, nil, err
		}
		lj := &lumberjack.Logger{Filename: o.File, MaxSize: 10, MaxBackups: 10, MaxAge: 90, Compress: true}
		handlers = append(handlers, slog.NewJSONHandler(lj, hopts))
		closer = lj
	}
	return slog.New(NewHandler(slog.NewMultiHandler(handlers...))), closer, nil
}
