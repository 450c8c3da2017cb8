// Package telemetry is the event contract of CONTRACT §5 made typed: event
// names, reason codes, domains and field keys as constants, one method per
// event so that a call site cannot misspell a field, and the encoders that
// write one line per event (json or kv/logfmt).
//
// Guarantees:
//   - every line has ts, level, name, instance and role; events about an
//     update also carry cid, update_id and, where the update has them,
//     user_id and chat_id (taken from the context, see WithUpdate);
//   - no value can add a field or a line in either format: values are
//     escaped by the encoder, never concatenated;
//   - user text is shortened to MaxUserText runes;
//   - the configured secrets (bot token, webhook secret) are replaced by
//     "[REDACTED]" in every line, whatever produced it;
//   - an event at a disabled level costs one atomic load and no allocation.
//
// Not guaranteed: the event journal in Redis (journal.go) is best effort; a
// write that fails is counted and reported, never retried, and never blocks
// or fails the caller.
package telemetry

import (
	"io"
	"os"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options configure a Logger.
type Options struct {
	Format   string        // "json" (default) or "kv"
	Level    zapcore.Level // initial level
	Instance string        // value of the field instance
	Secrets  []string      // values that never reach the output
	Output   io.Writer     // default os.Stdout
	// Sink, when set, also receives every event that carries a cid, encoded
	// as one JSON object (the event journal; see Journal).
	Sink Sink
}

// Sink receives the JSON form of each event about an update. It must not
// block: Record is called on the logging goroutine.
type Sink interface {
	Record(cid string, userID int64, line []byte)
}

// Logger writes the events of the contract. It is safe for concurrent use.
// The zero value is not usable; use New or Nop.
type Logger struct {
	z     *zap.Logger
	level zap.AtomicLevel
	base  zapcore.Level // configured level, restored when debug mode ends
	role  atomic.Value  // func() string
}

// New returns a Logger writing to opts.Output.
func New(opts Options) (*Logger, error) {
	if opts.Output == nil {
		opts.Output = os.Stdout
	}
	l := &Logger{level: zap.NewAtomicLevelAt(opts.Level), base: opts.Level}
	l.SetRole(func() string { return RolePassive })
	enc, err := newEncoder(opts.Format, opts.Secrets)
	if err != nil {
		return nil, err
	}
	var core zapcore.Core = zapcore.NewCore(enc, zapcore.AddSync(opts.Output), l.level)
	if opts.Sink != nil {
		core = zapcore.NewTee(core, newSinkCore(opts.Sink, l.level, opts.Secrets))
	}
	core = &roleCore{Core: core, role: l.currentRole}
	l.z = zap.New(core).With(zap.String(FInstance, opts.Instance))
	return l, nil
}

// Nop returns a Logger that writes nothing (for tests that do not read logs).
func Nop() *Logger {
	l := &Logger{z: zap.NewNop(), level: zap.NewAtomicLevelAt(zapcore.FatalLevel)}
	l.SetRole(func() string { return RolePassive })
	return l
}

// SetRole installs the function that reports the instance's role (ACTIVE
// when it holds at least one shard lease) for the field role.
func (l *Logger) SetRole(f func() string) { l.role.Store(f) }

func (l *Logger) currentRole() string { return l.role.Load().(func() string)() }

// Zap returns the underlying zap logger, for libraries that want one. Lines
// written through it still get role and redaction, but carry no event name
// unless the message is one.
func (l *Logger) Zap() *zap.Logger { return l.z }

// Level returns the level in force.
func (l *Logger) Level() zapcore.Level { return l.level.Level() }

// SetDebug switches the level to debug (on) or back to the configured level.
func (l *Logger) SetDebug(on bool) {
	if on {
		l.level.SetLevel(zapcore.DebugLevel)
	} else {
		l.level.SetLevel(l.base)
	}
}

// Sync flushes buffered output.
func (l *Logger) Sync() { _ = l.z.Sync() }

// roleCore adds the field role, read at write time, to every line.
type roleCore struct {
	zapcore.Core
	role func() string
}

func (c *roleCore) With(fields []zapcore.Field) zapcore.Core {
	return &roleCore{Core: c.Core.With(fields), role: c.role}
}

func (c *roleCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *roleCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	fields = append(fields, zap.String(FRole, c.role()))
	return c.Core.Write(e, fields)
}
