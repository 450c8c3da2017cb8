// Package telemetry is the event contract of CONTRACT §5 made typed: event
// names, reason codes, domains and field keys as constants (contract.go),
// the table of every event with its domain and fields (spec.go), one method
// per event on *Logger so that a call site cannot misspell a field
// (events.go), the json and kv (logfmt) encoders, the Sink that every event
// about an update is handed to (sink.go: the event journal, package
// journal, is one), the reading side of the journal as interfaces
// (journal_api.go) and the rendering of a chain for `dispatcher trace`
// (trace.go). Nothing here keeps state in Redis: the journal is package
// journal, the shared debug flag package debugflag (this package only
// switches the Logger's level, SetDebug).
//
// Guarantees:
//   - one line per event; every line has ts (RFC 3339, UTC, milliseconds),
//     level, name, instance and role, then domain; events about an update
//     also carry cid, update_id and, where the update has them, user_id and
//     chat_id, taken from the context (see WithUpdate);
//   - no value can add a field or a line in either format: values are
//     escaped by the encoder, never concatenated (fuzz-tested);
//   - user text is shortened to MaxUserText runes;
//   - the configured secrets (bot token, webhook secret), and their URL- and
//     quote-escaped forms, are replaced by [REDACTED] in every text an event
//     method takes (before it is shortened, so no part of a secret survives
//     a cut) and again in every encoded line, whatever produced it (errors of
//     the HTTP client, telego's or go-redis' logging through Lib or Zap);
//   - an event at a disabled level costs one atomic load: no allocation, no
//     formatting;
//   - a line is written to the output, whole, before the event method
//     returns, so a kill -9 right after it loses nothing it logged;
//     lines logged at the same moment by several goroutines share one write
//     (groupwrite.go: group commit, no timer, a lone line goes out at once);
//   - the Sink gets the event after its line was written, on the logging
//     goroutine, with the same secrets redacted (Entry.EncodeFields).
//
// Not guaranteed:
//   - what a Sink keeps is the Sink's business: the journal is best effort
//     (see package journal);
//   - events of different instances are ordered in a trace by their ts, so
//     clock skew between hosts can swap two events of different instances
//     (events of one instance keep their order);
//   - keys are code, not data: a caller passing free-form zap fields
//     (Service, Debug, Zap) can repeat a key; the typed methods never do;
//   - a secret shorter than a few characters is still redacted, which may
//     also hit unrelated text (secrets are validated long in config).
package telemetry

import (
	"io"
	"os"
	"slices"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options configure a Logger.
type Options struct {
	Format   string        // "json" (default) or "kv"
	Level    zapcore.Level // initial level, restored when debug mode ends
	Instance string        // value of the field instance
	Secrets  []string      // values that never reach the output
	Output   io.Writer     // default os.Stdout; writes are serialised
	// Sink, when set, also receives every event that carries a cid (the
	// event journal; see Sink).
	Sink Sink
}

// Logger writes the events of the contract. It is safe for concurrent use.
// The zero value is not usable; use New or Nop.
type Logger struct {
	z     *zap.Logger // events; emit adds role and domain
	lib   *zap.Logger // Zap(): library lines
	level zap.AtomicLevel
	base  zapcore.Level // configured level, restored when debug mode ends
	nop   bool
	role  atomic.Value // func() string
	red   *redactor
	extra []zap.Field // With fields, after every event's own
}

// New returns a Logger writing to opts.Output.
func New(opts Options) (*Logger, error) {
	if opts.Output == nil {
		opts.Output = os.Stdout
	}
	enc, err := newEncoder(opts.Format)
	if err != nil {
		return nil, err
	}
	l := &Logger{level: zap.NewAtomicLevelAt(opts.Level), base: opts.Level, red: newRedactor(opts.Secrets)}
	l.SetRole(func() string { return RolePassive })
	core := &lineCore{
		LevelEnabler: l.level,
		enc:          enc,
		json:         opts.Format != FormatKV,
		out:          newGroupWriter(opts.Output),
		red:          l.red,
		sink:         opts.Sink,
		instance:     opts.Instance,
	}
	l.z = zap.New(core)
	l.lib = zap.New(&libCore{Core: core, l: l, domain: DomainQueue})
	return l, nil
}

// Nop returns a Logger that writes nothing (for tests that do not read
// logs). Every event method returns at once.
func Nop() *Logger {
	l := &Logger{z: zap.NewNop(), lib: zap.NewNop(), level: zap.NewAtomicLevelAt(zapcore.FatalLevel),
		base: zapcore.FatalLevel, nop: true}
	l.SetRole(func() string { return RolePassive })
	return l
}

// SetRole installs the function that reports the instance's role (ACTIVE
// when it holds at least one shard lease) for the field role. It is called
// once per line and must be cheap and safe for concurrent use.
func (l *Logger) SetRole(f func() string) { l.role.Store(f) }

func (l *Logger) currentRole() string { return l.role.Load().(func() string)() }

// Role returns the value the field role has now.
func (l *Logger) Role() string { return l.currentRole() }

// With returns a Logger that writes like l (same output, level and debug
// mode, secrets, sink) and adds fields after every event's own fields: the
// poll lease's LEASE_* events carry lease=poll this way. Its role is l's
// until SetRole is called on it.
func (l *Logger) With(fields ...zap.Field) *Logger {
	c := &Logger{z: l.z, lib: l.lib, level: l.level, base: l.base, nop: l.nop, red: l.red,
		extra: append(slices.Clip(l.extra), fields...)}
	c.SetRole(l.Role)
	return c
}

// Zap returns a zap logger for libraries that want one. Its lines are
// LIBRARY_LOG events (domain QUEUE) with the message in msg, unless the
// message is an event name; they get role, escaping and redaction like
// every event.
func (l *Logger) Zap() *zap.Logger { return l.lib }

// Level returns the level in force.
func (l *Logger) Level() zapcore.Level { return l.level.Level() }

// Enabled reports whether events at lvl are written.
func (l *Logger) Enabled(lvl zapcore.Level) bool { return l.level.Enabled(lvl) }

// SetDebug switches the level to debug (on) or back to the configured level.
func (l *Logger) SetDebug(on bool) {
	if l.nop {
		return
	}
	if on {
		l.level.SetLevel(zapcore.DebugLevel)
	} else {
		l.level.SetLevel(l.base)
	}
}

// Sync flushes buffered output.
func (l *Logger) Sync() { _ = l.z.Sync() }
