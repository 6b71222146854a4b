package cli

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
)

// LogFlags are --log-level and --log-format. Logs go to stderr; stdout is
// for the command's answer.
type LogFlags struct {
	Level, Format string
}

// Register adds --log-level (default info) and --log-format (default
// format) to fs.
func (l *LogFlags) Register(fs *flag.FlagSet, format string) {
	fs.StringVar(&l.Level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&l.Format, "log-format", format, "json or text")
}

// Logger builds the logger the flags ask for; bad values are usage errors.
func (l *LogFlags) Logger(w io.Writer) (*slog.Logger, error) {
	return NewLogger(w, l.Level, l.Format)
}

// NewLogger returns a slog logger writing level and above to w as json or
// text.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	o := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	}
	return nil, Usagef("--log-format %q: want json or text", format)
}

// ParseLevel reads debug, info, warn or error.
func ParseLevel(level string) (slog.Level, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return lvl, UsageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	return lvl, nil
}
