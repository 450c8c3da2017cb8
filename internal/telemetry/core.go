package telemetry

import (
	"slices"

	"go.uber.org/zap"
	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

// lineCore is the one zap core of a Logger: it puts ts, level, name and
// instance first, encodes the line once in the output format, removes
// secrets from the bytes, writes the line, and hands events that carry a
// cid to the Sink as an Entry (the fields themselves, not the bytes: the
// journal encodes them its own way).
//
// The encoders are configured with no entry keys: the header travels as the
// first fields, so that both formats share one field order, and context
// fields (With) are kept as fields and written after the header.
type lineCore struct {
	zapcore.LevelEnabler
	enc      zapcore.Encoder
	json     bool // enc is the JSON encoder
	out      zapcore.WriteSyncer
	red      *redactor
	sink     Sink
	instance string
	ctx      []zapcore.Field // With fields
}

func (c *lineCore) With(fields []zapcore.Field) zapcore.Core {
	n := *c
	n.ctx = append(slices.Clip(c.ctx), fields...)
	return &n
}

func (c *lineCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *lineCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	fb := fieldPool.Get().(*fieldBuf)
	all := append(fb.f[:0],
		zap.Time(FTS, e.Time), zap.String(FLevel, e.Level.String()), zap.String(FName, e.Message),
		zap.String(FInstance, c.instance))
	all = append(all, c.ctx...)
	all = append(all, fields...)
	err := c.write(all)
	if c.sink != nil {
		if en := newEntry(e, c.instance, all, c.red); en.Update.CID != "" {
			c.sink.Record(en)
		}
	}
	clear(all)
	fb.f = all[:0]
	fieldPool.Put(fb)
	return err
}

func (c *lineCore) write(fields []zapcore.Field) error {
	buf, err := c.encode(c.enc, c.json, fields)
	if err != nil {
		return err
	}
	_, err = c.out.Write(buf.Bytes())
	buf.Free()
	return err
}

func (c *lineCore) encode(enc zapcore.Encoder, json bool, fields []zapcore.Field) (*buffer.Buffer, error) {
	buf, err := enc.EncodeEntry(zapcore.Entry{}, fields)
	if err != nil {
		return nil, err
	}
	if json {
		buf = escapeSeparators(buf)
	}
	return c.red.Buffer(buf), nil
}

func (c *lineCore) Sync() error { return c.out.Sync() }

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}

// libCore serves Zap(): a library's line becomes a LIBRARY_LOG event with
// its message in msg, and gets role and domain like every event; its
// context fields (With) follow.
type libCore struct {
	zapcore.Core // the Logger's lineCore
	l            *Logger
	domain       Domain
	ctx          []zapcore.Field
}

func (c *libCore) With(fields []zapcore.Field) zapcore.Core {
	return &libCore{Core: c.Core, l: c.l, domain: c.domain, ctx: append(slices.Clip(c.ctx), fields...)}
}

func (c *libCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *libCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	all := make([]zapcore.Field, 0, len(c.ctx)+len(fields)+3)
	all = append(all, zap.String(FRole, c.l.currentRole()))
	if s, known := specIndex[Event(e.Message)]; known {
		all = append(all, zap.String(FDomain, string(s.Domain)))
	} else {
		all = append(all, zap.String(FDomain, string(c.domain)), zap.String(FMsg, c.l.red.String(e.Message)))
		e.Message = string(EvLibraryLog)
	}
	all = append(all, c.ctx...)
	all = append(all, fields...)
	return c.Core.Write(e, all)
}
