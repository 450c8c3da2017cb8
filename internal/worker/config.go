package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// ErrConfig is wrapped by every error New returns for a bad Config.
var ErrConfig = errors.New("worker: bad config")

// ErrDrainIncomplete is wrapped by Drain when its context ended before the
// in-hand updates were finished; they stay pending for the successor.
var ErrDrainIncomplete = errors.New("worker: drain incomplete")

// Leadership tells whether a shard's lease is still held under a token. A
// token that was once invalid must never become valid again (tokens only
// grow), as lease.Manager guarantees.
type Leadership interface {
	Valid(shard int, token int64) bool
}

// Handler handles one update: its identity, its raw JSON and what telego
// decoded of it (update.Decode, once per update: an update telego cannot
// fully decode arrives with u.Incomplete set, and is not a failure). Each
// delivery of an update in one term gets the same u, which handlers must
// not change. An error, a panic or not returning within the context's
// deadline is a failed delivery. An update of a type the handler does not take must
// return nil.
type Handler interface {
	Handle(ctx context.Context, u *update.Update) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, u *update.Update) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, u *update.Update) error { return f(ctx, u) }

// Defaults of the optional Config fields.
const (
	DefaultWorkers         = 16
	DefaultMaxDeliveries   = 5
	DefaultHandlerTimeout  = 30 * time.Second
	DefaultRetryBackoff    = time.Second
	DefaultRetryBackoffMax = 30 * time.Second
	DefaultBlock           = time.Second
	DefaultRedisBackoff    = 100 * time.Millisecond
	DefaultRedisBackoffMax = 2 * time.Second
	DefaultWriteTimeout    = 5 * time.Second
	DefaultReclaimIdle     = 5 * time.Second
	DefaultLeaseEndGrace   = time.Second
)

// Config of a Pool. Queue, Leadership, Handler, Log, Metrics and Instance
// are required; zero durations and counts take the defaults above.
type Config struct {
	Queue      *queue.Queue
	Leadership Leadership
	Handler    Handler
	Log        *telemetry.Logger
	Metrics    *metrics.Metrics
	// Instance is this instance's id: the consumer name in every shard's
	// group and the dead_lettered_by of dead letters.
	Instance string
	// Workers (WORKERS) bounds the updates in hand across all shards.
	Workers int
	// MaxDeliveries (MAX_DELIVERIES) deliveries before an update is
	// dead-lettered.
	MaxDeliveries int
	// HandlerTimeout (HANDLER_TIMEOUT) is one dispatch's deadline.
	HandlerTimeout time.Duration
	// AbandonAfter is how long, after HandlerTimeout, a handler that ignores
	// its context is still waited for before its goroutine is abandoned
	// (DISPATCH_ABANDONED, reason HANDLER_ABANDONED). Until then its chat
	// waits: at most one handler per chat runs. Default: HandlerTimeout.
	AbandonAfter time.Duration
	// LeaseEndGrace is how long, once the lease's context ended, a handler
	// still running is waited for before it is abandoned (at most
	// AbandonAfter in all). RunShard returns only after every handler of
	// its term has returned or been abandoned, so a shard's handlers are
	// done or abandoned within LeaseEndGrace of the end of its leadership.
	// The server passes LEASE_TTL/6: a holder steps down at 2/3 of the TTL,
	// so its handlers are done or abandoned at 5/6 of it, before a successor
	// can win the lease. Default: DefaultLeaseEndGrace.
	LeaseEndGrace time.Duration
	// RetryBackoff is the wait after a failed first delivery; it doubles for
	// each further delivery, up to RetryBackoffMax.
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	// Block is the longest blocking wait for new entries (XREAD BLOCK). It
	// bounds how long RunShard takes to return once stopped.
	Block time.Duration
	// RedisBackoff and RedisBackoffMax bound the waits between attempts
	// while Redis fails (reads, acks, dead letters).
	RedisBackoff    time.Duration
	RedisBackoffMax time.Duration
	// WriteTimeout bounds one ack or dead-letter attempt.
	WriteTimeout time.Duration
	// ReclaimIdle is the period of the sweep that takes back this
	// consumer's pending entries idle at least that long that it does not
	// hold (a read whose reply was lost and that Redis ran late); after a
	// failed read the same is done at once, whatever their idle time.
	// Default: DefaultReclaimIdle.
	ReclaimIdle time.Duration
	// Live, when set, tells which of the named instances are live: the
	// instance that takes a shard removes the group's consumers that have
	// no pending entry and belong to no live instance. Nil: consumers are
	// kept.
	Live func(ctx context.Context, ids []string) (map[string]bool, error)
	// AnswerCallback, when set, answers a callback query (no text): the
	// pool calls it for a callback_query it dead-letters without having
	// dispatched it in this term (MAX_DELIVERIES reached by earlier
	// deliveries that crashed, a payload that cannot be decoded), which no
	// handler's silence guard answered, and logs SILENCE_WARNING. Nil: not
	// answered.
	AnswerCallback func(ctx context.Context, queryID, text string) error
	// Now is the clock for wait_ms and durations. Default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() error {
	switch {
	case c.Queue == nil:
		return fmt.Errorf("%w: Queue: required", ErrConfig)
	case c.Leadership == nil:
		return fmt.Errorf("%w: Leadership: required", ErrConfig)
	case c.Handler == nil:
		return fmt.Errorf("%w: Handler: required", ErrConfig)
	case c.Log == nil:
		return fmt.Errorf("%w: Log: required", ErrConfig)
	case c.Metrics == nil:
		return fmt.Errorf("%w: Metrics: required", ErrConfig)
	case c.Instance == "":
		return fmt.Errorf("%w: Instance: required", ErrConfig)
	}
	ints := []struct {
		name string
		v    *int
		def  int
	}{{"Workers", &c.Workers, DefaultWorkers}, {"MaxDeliveries", &c.MaxDeliveries, DefaultMaxDeliveries}}
	for _, f := range ints {
		if *f.v < 0 {
			return fmt.Errorf("%w: %s: must be at least 1, got %d", ErrConfig, f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	durs := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"HandlerTimeout", &c.HandlerTimeout, DefaultHandlerTimeout},
		{"RetryBackoff", &c.RetryBackoff, DefaultRetryBackoff},
		{"RetryBackoffMax", &c.RetryBackoffMax, DefaultRetryBackoffMax},
		{"Block", &c.Block, DefaultBlock},
		{"RedisBackoff", &c.RedisBackoff, DefaultRedisBackoff},
		{"RedisBackoffMax", &c.RedisBackoffMax, DefaultRedisBackoffMax},
		{"WriteTimeout", &c.WriteTimeout, DefaultWriteTimeout},
		{"ReclaimIdle", &c.ReclaimIdle, DefaultReclaimIdle},
		{"LeaseEndGrace", &c.LeaseEndGrace, DefaultLeaseEndGrace},
	}
	for _, f := range durs {
		if *f.v < 0 {
			return fmt.Errorf("%w: %s: must not be negative, got %s", ErrConfig, f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.AbandonAfter < 0 {
		return fmt.Errorf("%w: AbandonAfter: must not be negative, got %s", ErrConfig, c.AbandonAfter)
	}
	if c.AbandonAfter == 0 {
		c.AbandonAfter = c.HandlerTimeout
	}
	if c.RetryBackoffMax < c.RetryBackoff {
		return fmt.Errorf("%w: RetryBackoffMax: must be at least RetryBackoff (%s), got %s", ErrConfig, c.RetryBackoff, c.RetryBackoffMax)
	}
	if c.RedisBackoffMax < c.RedisBackoff {
		return fmt.Errorf("%w: RedisBackoffMax: must be at least RedisBackoff (%s), got %s", ErrConfig, c.RedisBackoff, c.RedisBackoffMax)
	}
	if c.Block < time.Millisecond {
		return fmt.Errorf("%w: Block: must be at least 1ms, got %s", ErrConfig, c.Block)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}
