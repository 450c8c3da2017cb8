package telemetry

import (
	"go.uber.org/zap/zapcore"
)

// sinkCore hands the JSON form of every event that carries a cid to a Sink.
type sinkCore struct {
	zapcore.LevelEnabler
	enc  zapcore.Encoder
	sink Sink
}

func newSinkCore(s Sink, lvl zapcore.LevelEnabler, secrets []string) zapcore.Core {
	enc, _ := newEncoder("json", secrets)
	return &sinkCore{LevelEnabler: lvl, enc: enc, sink: s}
}

func (c *sinkCore) With(fields []zapcore.Field) zapcore.Core {
	enc := c.enc.Clone()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return &sinkCore{LevelEnabler: c.LevelEnabler, enc: enc, sink: c.sink}
}

func (c *sinkCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *sinkCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	var cid string
	var user int64
	for _, f := range fields {
		switch f.Key {
		case FCID:
			cid = f.String
		case FUserID:
			user = f.Integer
		}
	}
	if cid == "" {
		return nil
	}
	buf, err := c.enc.EncodeEntry(e, fields)
	if err != nil {
		return err
	}
	line := append([]byte(nil), buf.Bytes()...)
	buf.Free()
	c.sink.Record(cid, user, line)
	return nil
}

func (c *sinkCore) Sync() error { return nil }
