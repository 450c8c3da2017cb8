package telemetry

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// fieldBuf is a reusable field slice: an event's fields are assembled in
// one without allocating.
type fieldBuf struct{ f []zap.Field }

var fieldPool = sync.Pool{New: func() any { return &fieldBuf{f: make([]zap.Field, 0, 24)} }}

// emit writes one event: role, domain, the update identity from ctx, then
// fields. Event methods call it after checking the level (l.on), so that a
// disabled event does no work at all.
func (l *Logger) emit(ctx context.Context, lvl zapcore.Level, name Event, domain Domain, fields ...zap.Field) {
	l.emitAt(ctx, time.Time{}, lvl, name, domain, fields...)
}

// emitAt is emit with the line's ts set to at (the zero time: now).
func (l *Logger) emitAt(ctx context.Context, at time.Time, lvl zapcore.Level, name Event, domain Domain, fields ...zap.Field) {
	ce := l.z.Check(lvl, string(name))
	if ce == nil {
		return
	}
	if !at.IsZero() {
		ce.Time = at
	}
	fb := fieldPool.Get().(*fieldBuf)
	all := append(fb.f[:0], zap.String(FRole, l.currentRole()), zap.String(FDomain, string(domain)))
	if u, ok := UpdateFrom(ctx); ok {
		all = append(all, zap.String(FCID, u.CID), zap.Int64(FUpdateID, u.UpdateID))
		if u.UserID != 0 {
			all = append(all, zap.Int64(FUserID, u.UserID))
		}
		if u.ChatID != 0 {
			all = append(all, zap.Int64(FChatID, u.ChatID))
		}
	}
	all = append(all, fields...)
	all = append(all, l.extra...)
	ce.Write(all...)
	clear(all)
	fb.f = all[:0]
	fieldPool.Put(fb)
}

// on reports whether lvl is enabled: the first thing every event method
// does.
func (l *Logger) on(lvl zapcore.Level) bool { return l.level.Enabled(lvl) }

// text returns user-supplied or foreign text as an event carries it:
// secrets removed first, then shortened to MaxUserText runes.
func (l *Logger) text(s string) string { return Shorten(l.red.String(s)) }

// Text is s as events carry a text field: secrets redacted, shortened.
func (l *Logger) Text(s string) string { return l.text(s) }

func (l *Logger) errText(err error) string {
	if err == nil {
		return ""
	}
	return l.text(err.Error())
}

// buttonIDs writes a button list as an array without copying it.
type buttonIDs []ButtonID

func (b buttonIDs) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, id := range b {
		enc.AppendString(string(id))
	}
	return nil
}
