package server

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// redisDebugLog sends go-redis' own messages (pool dial failures...) to the
// event log as LIBRARY_LOG lines at debug level instead of stderr: every
// Redis failure that matters is already logged once per outage by the
// component that saw it, with its reason code.
type redisDebugLog struct{ lib *telemetry.LibLogger }

func (r redisDebugLog) Printf(_ context.Context, format string, v ...any) { r.lib.Debugf(format, v...) }

// installRedisLogger routes go-redis' process-wide logger through log.
func installRedisLogger(log *telemetry.Logger) {
	redis.SetLogger(redisDebugLog{lib: log.Lib(telemetry.DomainDB)})
}
