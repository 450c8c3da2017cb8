package telemetry

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LibLogger adapts a Logger to the printf-style loggers of libraries:
// telego's Logger (Debugf, Errorf) and go-redis' (Printf, see
// redis.SetLogger). Each call is one LIBRARY_LOG event in the adapter's
// domain with the formatted text in msg, escaped and with secrets removed
// like every event (telego's messages can hold request URLs, which hold the
// bot token).
type LibLogger struct {
	l      *Logger
	domain Domain
}

// Lib returns an adapter whose lines carry domain (TELEGRAM for telego, DB
// for go-redis).
func (l *Logger) Lib(domain Domain) *LibLogger { return &LibLogger{l: l, domain: domain} }

// Debugf logs at debug level (written only while the level is debug).
func (g *LibLogger) Debugf(format string, args ...any) {
	g.log(context.Background(), zapcore.DebugLevel, format, args)
}

// Errorf logs at error level.
func (g *LibLogger) Errorf(format string, args ...any) {
	g.log(context.Background(), zapcore.ErrorLevel, format, args)
}

// Printf logs at warn level (go-redis reports connection trouble this way);
// an update identity in ctx is carried like in every event.
func (g *LibLogger) Printf(ctx context.Context, format string, args ...any) {
	g.log(ctx, zapcore.WarnLevel, format, args)
}

func (g *LibLogger) log(ctx context.Context, lvl zapcore.Level, format string, args []any) {
	if !g.l.on(lvl) {
		return
	}
	g.l.emit(ctx, lvl, EvLibraryLog, g.domain, zap.String(FMsg, g.l.red.String(fmt.Sprintf(format, args...))))
}

// redisDebugLog is go-redis' logger at debug level: see RouteRedisLogs.
type redisDebugLog struct{ lib *LibLogger }

func (r redisDebugLog) Printf(_ context.Context, format string, v ...any) { r.lib.Debugf(format, v...) }

// RouteRedisLogs sends go-redis' process-wide messages (pool dial failures
// and the like) to l as LIBRARY_LOG lines of domain DB at debug level,
// instead of stderr: whoever saw a Redis failure that matters reports it
// once, with its reason code (the server's components, the CLI's one
// line), so the library's own lines are noise except when debugging.
func RouteRedisLogs(l *Logger) {
	redis.SetLogger(redisDebugLog{lib: l.Lib(DomainDB)})
}
