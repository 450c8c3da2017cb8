package queue

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
)

// ShardStats is the state of one shard's stream.
type ShardStats struct {
	Shard int
	// Length is the entries in the stream: every update enqueued and not yet
	// acknowledged or dead-lettered, delivered or not (the backlog).
	Length int64
	// Pending is the entries delivered to a consumer and not acknowledged.
	Pending int64
	// OldestPendingAge is the age of the oldest entry not yet acknowledged
	// (the stream's first entry, delivered or not); 0 when the stream is
	// empty.
	OldestPendingAge time.Duration
	// DeadLetters is the entries in the shard's dead-letter stream.
	DeadLetters int64
}

// Stats reads the state of shard in one round trip.
func (q *Queue) Stats(ctx context.Context, shard int) (ShardStats, error) {
	k, err := q.shard(shard)
	if err != nil {
		return ShardStats{}, err
	}
	var (
		length, dlq *redis.IntCmd
		pending     *redis.XPendingCmd
		head        *redis.XMessageSliceCmd
	)
	_, err = q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		length = p.XLen(ctx, k.Stream())
		pending = p.XPending(ctx, k.Stream(), keys.Group)
		head = p.XRangeN(ctx, k.Stream(), "-", "+", 1)
		dlq = p.XLen(ctx, k.DLQ())
		return nil
	})
	st := ShardStats{Shard: shard, Length: length.Val(), DeadLetters: dlq.Val()}
	if err != nil && !onlyNoGroup(err, length, dlq, head) {
		return st, mapErr(ctx, err)
	}
	if pending.Err() == nil {
		st.Pending = pending.Val().Count
	}
	if msgs := head.Val(); len(msgs) > 0 {
		if age := q.opts.Now().Sub(IDTime(msgs[0].ID)); age > 0 {
			st.OldestPendingAge = age
		}
	}
	return st, nil
}

// onlyNoGroup reports whether the pipeline's only failure is XPENDING on a
// stream or group that does not exist yet (nothing pending).
func onlyNoGroup(err error, others ...redis.Cmder) bool {
	for _, c := range others {
		if c.Err() != nil {
			return false
		}
	}
	return strings.HasPrefix(err.Error(), "NOGROUP")
}

// RefreshGauges sets the queue gauges of m (length, pending, oldest pending
// age, dead-letter length) for every shard held reports true, and removes
// them for the others: a shard's gauges come from its ACTIVE instance only,
// so that at SHARDS=1024 no instance exports a thousand shards' gauges. It
// returns the first error and leaves the gauges of a shard it could not read
// unchanged.
func (q *Queue) RefreshGauges(ctx context.Context, m *metrics.Metrics, held func(shard int) bool) error {
	var errs []error
	for n := 0; n < q.opts.Shards; n++ {
		l := strconv.Itoa(n)
		if !held(n) {
			m.ForgetShard(l)
			continue
		}
		st, err := q.Stats(ctx, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.QueueLength.WithLabelValues(l).Set(float64(st.Length))
		m.QueuePending.WithLabelValues(l).Set(float64(st.Pending))
		m.OldestPending.WithLabelValues(l).Set(st.OldestPendingAge.Seconds())
		m.DLQLength.WithLabelValues(l).Set(float64(st.DeadLetters))
	}
	return errors.Join(errs...)
}
