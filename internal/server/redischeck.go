package server

import (
	"context"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// checkRedis pings Redis and runs the permission probe (probe.lua) within
// timeout.
func (s *Server) checkRedis(ctx context.Context, timeout time.Duration) error {
	if err := redisx.Ping(ctx, s.redis, timeout); err != nil {
		return err
	}
	return redisx.Probe(ctx, s.redis, s.keys.Shard(0).Probe(), timeout)
}

// waitRedis returns once Redis answers and lets this instance do its work,
// retrying with backoff, or ctx.Err(). An answer that no retry can change
// (a wrong password, an ACL denial, a database the server does not have:
// redisx.Permanent) is returned at once as the configuration error it is.
func (s *Server) waitRedis(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	logged := false
	for {
		err := s.checkRedis(ctx, time.Second)
		if err == nil {
			s.redisOK.Store(true)
			return nil
		}
		if perr := redisx.PermanentError(&s.cfg, err); perr != nil {
			return perr
		}
		if !logged {
			s.log.Service(zapcore.WarnLevel, telemetry.EvRedisError, "redis unavailable at start; retrying",
				zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)), zap.Error(err))
			logged = true
		}
		if err := sleepCtx(ctx, backoff); err != nil {
			return err
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
	}
}
