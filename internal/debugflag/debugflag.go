// Package debugflag is the runtime debug level every instance of a
// namespace shares: one Redis key that expires when debug mode ends. It is
// the Redis-backed half of debug mode; package telemetry, which switches
// the Logger's level, has no Redis in it.
package debugflag

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// timeLayout is how the key's value (when debug mode ends, for people
// reading Redis) is written.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// DebugPoll is how often every instance reads the shared debug flag; an
// instance follows a change within DebugPoll plus one Redis round trip
// (well under the 2 s the contract asks).
const DebugPoll = 500 * time.Millisecond

// Flag is the runtime debug level shared by every instance: a key
// (keys.Space.DebugUntil) that expires when debug mode ends. EnableDebug
// sets it (the /debug panel does); Run, which every instance runs, reads it
// every DebugPoll and switches its Logger to debug while the key exists and
// back to the configured level when it is gone, logging DEBUG_MODE_CHANGED
// on each switch.
//
// The expiry is Redis' (PTTL), not the instances' clocks, so instances
// agree on when debug mode ends. While Redis does not answer an instance
// keeps its current level and logs REDIS_ERROR at most once a minute.
type Flag struct {
	c   redis.UniversalClient
	key string
	log *telemetry.Logger
	now func() time.Time

	// used by the Run goroutine only
	on       bool
	lastErr  time.Time
	interval time.Duration
}

var _ telemetry.DebugSetter = (*Flag)(nil)

// New returns the debug flag of the key space ks. log is the Logger
// Run switches; it may be nil for a Flag that only sets the flag.
func New(c redis.UniversalClient, ks keys.Space, log *telemetry.Logger) *Flag {
	return &Flag{c: c, key: ks.DebugUntil(), log: log, now: time.Now, interval: DebugPoll}
}

// EnableDebug sets the flag so that every instance logs at debug level for
// d; it returns when debug mode ends (by this host's clock). Enabling again
// extends or shortens the period.
func (f *Flag) EnableDebug(ctx context.Context, d time.Duration) (time.Time, error) {
	if d <= 0 {
		return time.Time{}, fmt.Errorf("%w: %s", telemetry.ErrDebugDuration, d)
	}
	until := f.now().Add(d).UTC()
	if err := f.c.Set(ctx, f.key, until.Format(timeLayout), d).Err(); err != nil {
		return time.Time{}, fmt.Errorf("debugflag: enable debug: %w", err)
	}
	return until, nil
}

// DisableDebug removes the flag: every instance returns to its configured
// level within DebugPoll.
func (f *Flag) DisableDebug(ctx context.Context) error {
	if err := f.c.Del(ctx, f.key).Err(); err != nil {
		return fmt.Errorf("debugflag: disable debug: %w", err)
	}
	return nil
}

// Until reports whether debug mode is on and until when (zero when the flag
// has no expiry).
func (f *Flag) Until(ctx context.Context) (time.Time, bool, error) {
	ttl, err := f.c.PTTL(ctx, f.key).Result()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("debugflag: read debug flag: %w", err)
	}
	switch {
	case ttl == -2: // no key (go-redis returns -2 and -1 as they are)
		return time.Time{}, false, nil
	case ttl < 0: // -1: no expiry
		return time.Time{}, true, nil
	}
	return f.now().Add(ttl).UTC().Truncate(time.Millisecond), true, nil
}

// Run follows the flag until ctx is done: it reads it at once, then every
// DebugPoll. It returns nil when ctx is done, leaving the level as it is.
func (f *Flag) Run(ctx context.Context) error {
	if f.log == nil {
		return errors.New("debugflag: Run needs a Logger")
	}
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		f.check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (f *Flag) check(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, f.interval)
	until, on, err := f.Until(cctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if now := f.now(); f.lastErr.IsZero() || now.Sub(f.lastErr) >= time.Minute {
			f.lastErr = now
			f.log.Service(zapcore.WarnLevel, telemetry.EvRedisError, "cannot read the debug flag; keeping the current level",
				zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)), zap.String(telemetry.FError, f.log.Text(err.Error())))
		}
		return
	}
	if on == f.on {
		return
	}
	f.on = on
	f.log.SetDebug(on)
	f.log.DebugModeChanged(ctx, on, until)
}
