package queue

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

var (
	// ErrBacklogFull is returned by Enqueue when the shard's stream already
	// holds MaxBacklog entries; nothing was written.
	ErrBacklogFull = errors.New("queue: backlog full")
	// ErrUnavailable wraps a Redis error (connection refused, timeout,
	// loading...): the operation may or may not have been applied only where
	// the method says so; Enqueue's append was not confirmed.
	ErrUnavailable = errors.New("queue: redis unavailable")
	// ErrBadID is returned for a string that is not a stream id (ms-seq).
	ErrBadID = errors.New("queue: not a stream id")
)

// Options configure a Queue.
type Options struct {
	// Shards is the number of stream shards (SHARDS); values below 1 mean 1.
	Shards int
	// MaxBacklog is the most entries one shard's stream holds (MAX_BACKLOG);
	// 0 means no limit.
	MaxBacklog int
	// DedupeWindow is how long an update_id is remembered (DEDUPE_WINDOW); 0
	// disables dedupe. Windows under a millisecond count as one millisecond.
	DedupeWindow time.Duration
	// WaitReplicas (REDIS_WAIT_REPLICAS), when above 0, makes Enqueue wait
	// until that many replicas acknowledged the append (Redis WAIT, at most
	// WaitTimeout); with fewer, Enqueue fails with ErrNotReplicated and the
	// update is not answered 200. 0: the append is confirmed by the master
	// alone, and a failover can lose the last appends (docs/scaling.md).
	WaitReplicas int
	// WaitTimeout bounds the wait for replicas (REDIS_WAIT_TIMEOUT).
	WaitTimeout time.Duration
	// Log, when set, receives DLQ_REPLAYED events. Default: no events.
	Log *telemetry.Logger
	// Now is the clock for ages in Stats. Default time.Now.
	Now func() time.Time
}

// Queue is the set of shard streams of one namespace. It is safe for
// concurrent use and holds no goroutines.
type Queue struct {
	c      redis.UniversalClient
	ks     keys.Space
	opts   Options
	format atomic.Int32 // the entry format appends write (SetFormat)
}

// New returns the queue of namespace ks on client c. c is never closed by
// the queue.
func New(c redis.UniversalClient, ks keys.Space, opts Options) *Queue {
	if opts.Shards < 1 {
		opts.Shards = 1
	}
	if opts.MaxBacklog < 0 {
		opts.MaxBacklog = 0
	}
	if opts.DedupeWindow < 0 {
		opts.DedupeWindow = 0
	}
	if opts.Log == nil {
		opts.Log = telemetry.Nop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	q := &Queue{c: c, ks: ks, opts: opts}
	q.format.Store(FormatFields)
	return q
}

// SetFormat sets the stream entry format of the appends that start from
// now on (FormatFields or FormatPacked; other values are ignored). A new
// Queue writes FormatFields, which every version reads; the server moves
// to FormatPacked while every live instance reads it. Reads take either.
func (q *Queue) SetFormat(format int) {
	if format == FormatFields || format == FormatPacked {
		q.format.Store(int32(format))
	}
}

// Format returns the entry format appends write.
func (q *Queue) Format() int { return int(q.format.Load()) }

// Shards returns the number of shards.
func (q *Queue) Shards() int { return q.opts.Shards }

// Keys returns the key space the queue writes in.
func (q *Queue) Keys() keys.Space { return q.ks }

func (q *Queue) shard(n int) (keys.Shard, error) {
	if n < 0 || n >= q.opts.Shards {
		return keys.Shard{}, fmt.Errorf("queue: shard %d out of range [0,%d)", n, q.opts.Shards)
	}
	return q.ks.Shard(n), nil
}

// mapErr turns a Redis error into the package's errors: a fenced refusal
// into one matching lease.ErrFenced, a cancelled context kept as is, any
// other failure wrapped in ErrUnavailable.
func mapErr(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case lease.IsFenced(err):
		return lease.MapFenced(err)
	case ctx.Err() != nil:
		return errors.Join(fmt.Errorf("%w: %w", ErrUnavailable, err), ctx.Err())
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
