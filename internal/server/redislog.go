package server

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// redisLogger sends go-redis' own messages (pool dial failures...) to the
// event log at debug level, as REDIS_ERROR lines, instead of stderr. Every
// Redis failure that matters is already logged by the component that saw
// it, with its reason code.
type redisLogger struct{ log *telemetry.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Service(zapcore.DebugLevel, telemetry.EvRedisError, "go-redis", zap.String(telemetry.FError, fmt.Sprintf(format, v...)))
}

// installRedisLogger routes go-redis' process-wide logger through log.
func installRedisLogger(log *telemetry.Logger) { redis.SetLogger(redisLogger{log: log}) }
