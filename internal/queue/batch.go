package queue

import (
	"context"
	"errors"
	"time"
)

// ErrBatcherClosed is returned by Batcher.Enqueue once the batcher is
// closed. It wraps ErrUnavailable: the append was not made (or, for a call
// in flight when Close was called, not confirmed).
var ErrBatcherClosed = errors.Join(ErrUnavailable, errors.New("queue: batcher closed"))

// BatchOptions configure a Batcher.
type BatchOptions struct {
	// MaxBatch is the most appends of one shard sent in one round trip.
	// Default 64.
	MaxBatch int
	// InFlight is how many round trips of one shard may be under way at
	// once (default 2): while one is on the wire or in Redis, the next
	// batch is encoded and sent, so neither side waits for the other.
	// 1 makes the batches strictly one after the other.
	InFlight int
	// Timeout bounds one round trip (default 2s, ingest's EnqueueTimeout).
	// A call whose own context ends first is answered at once with an
	// unconfirmed append.
	Timeout time.Duration
	// Observe, when set, is called after each round trip with the number
	// of appends it carried (tests and benchmarks).
	Observe func(shard, size int)
}

// Batcher is group commit for Enqueue: concurrent appends to one shard are
// sent to Redis together, as one call of the enqueue script for them all
// (and, with Options.WaitReplicas, one WAIT after it, in the same round
// trip), on the shard's master, and each caller is answered when the
// reply is back. Lua is entered once per batch, not once per entry.
//
// It has InFlight goroutines per shard and no timer: a call that finds one
// of them idle is sent at once, alone; the calls that arrive while they are
// all in a round trip form the next one (at most MaxBatch). So an idle
// instance adds no latency, and under load the number of round trips per
// update falls with the load.
//
// Guarantees are Enqueue's, per call: the script does for each entry what
// it does for one (dedupe, backlog check, append, marker), so a duplicate
// or a full backlog is reported to the call it concerns alone; nil error
// means the entry and its marker are in Redis. A failure of the round trip
// itself (Redis down, a timeout, a replica shortfall) is reported to every
// call of the batch: their appends are unconfirmed, as with Enqueue, and a
// resend is a duplicate of whatever was appended. Entries of one round trip
// are appended in the order their calls reached the batcher; calls that
// overlap in time have no order anyway (two round trips of a shard in
// flight carry only calls that overlapped), and a call made after another
// returned is appended after it. A call whose context has ended before its
// round trip is sent is dropped from it (nothing appended); one that ends
// during the round trip gets an error wrapping ErrUnavailable (the append
// is unconfirmed, as with Enqueue).
type Batcher struct {
	q    *Queue
	opts BatchOptions
	g    *group[*batchCall]
}

type batchCall struct {
	ctx  context.Context
	e    Envelope
	done chan batchReply // capacity 1: the goroutine never blocks on it
}

type batchReply struct {
	res EnqueueResult
	err error
}

// NewBatcher returns the batcher of q's shards. Its goroutines (InFlight
// per shard) start with the first Enqueue; Close stops them.
func NewBatcher(q *Queue, opts BatchOptions) *Batcher {
	if opts.MaxBatch < 1 {
		opts.MaxBatch = 64
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.InFlight < 1 {
		opts.InFlight = 2
	}
	b := &Batcher{q: q, opts: opts}
	b.g = newGroup(q.opts.Shards, opts.MaxBatch, opts.InFlight, b.flush,
		func(c *batchCall) { c.done <- batchReply{err: ErrBatcherClosed} })
	return b
}

// Close stops the batcher: a round trip in flight completes and answers
// its calls; calls still waiting for one, and later calls, get
// ErrBatcherClosed. Close is idempotent.
func (b *Batcher) Close() { b.g.close() }

// Enqueue is Queue.Enqueue through the batcher (the webhook's appends; the
// poller's fenced appends use Queue.EnqueuePolled).
func (b *Batcher) Enqueue(ctx context.Context, e Envelope) (EnqueueResult, error) {
	if _, err := b.q.shard(e.Shard); err != nil {
		return EnqueueResult{}, err
	}
	c := &batchCall{ctx: ctx, e: e, done: make(chan batchReply, 1)}
	r := await(ctx, b.g, e.Shard, c, c.done, ErrBatcherClosed, func(err error) batchReply { return batchReply{err: err} })
	return r.res, r.err
}

// flush sends one round trip for batch and answers every call in it.
func (b *Batcher) flush(shard int, batch []*batchCall) {
	send := make([]*batchCall, 0, len(batch))
	es := make([]Envelope, 0, len(batch))
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.done <- batchReply{err: mapErr(c.ctx, err)} // its caller is gone: append nothing
			continue
		}
		send = append(send, c)
		es = append(es, c.e)
	}
	if len(send) == 0 {
		return
	}
	if b.opts.Observe != nil {
		defer b.opts.Observe(shard, len(send))
	}
	answer := func(err error) {
		for _, c := range send {
			c.done <- batchReply{err: err}
		}
	}
	call, err := b.q.enqueueCall(es, 0)
	if err != nil {
		answer(err)
		return
	}
	// not the group's context: a round trip under way completes on Close and is answered
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.Timeout)
	defer cancel()
	res, acked, err := b.q.runEnqueue(ctx, call)
	if err != nil {
		answer(mapErr(ctx, err))
		return
	}
	for i, c := range send {
		r, err := b.q.enqueueReply(ctx, c.e, entryReply(res, i), nil, acked)
		c.done <- batchReply{res: r, err: err}
	}
}
