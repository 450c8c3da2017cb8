package queue

import (
	"context"
	"errors"
	"time"
)

// ErrAckerClosed is returned by Acker.Ack once the acker is closed. It
// wraps ErrUnavailable: the ack was not made (or, for a call in flight
// when Close was called, not confirmed); the entry may still be pending.
var ErrAckerClosed = errors.Join(ErrUnavailable, errors.New("queue: acker closed"))

// AckerOptions configure an Acker.
type AckerOptions struct {
	// MaxBatch is the most acks sent in one script call. Default 64.
	MaxBatch int
	// InFlight is how many calls may be under way at once (default 2).
	InFlight int
	// Timeout bounds one round trip (default 5s, the worker's
	// WriteTimeout). A call whose own context ends first is answered at
	// once with an unconfirmed ack.
	Timeout time.Duration
	// Observe, when set, is called after each round trip, before its
	// callers are answered, with the number of acks it carried (tests and
	// benchmarks).
	Observe func(size int)
}

// Acker is group commit for Ack, for one shard under one fencing token (a
// worker's term): acks that arrive while a call is under way share the
// next call of the fenced ack script, one XACK and one XDEL for them all,
// and each caller is answered when that call's reply is back. Like
// Batcher it has no timer: an ack that finds a goroutine idle is sent at
// once, alone.
//
// Guarantees are Ack's, per call: nil error means the entry is
// acknowledged and deleted; an error matching lease.ErrFenced means the
// token is stale and nothing of the call was acknowledged; any other error
// (wrapping ErrUnavailable) leaves the ack unconfirmed, and acking again is
// harmless. A caller that waits for its ack before it starts the next
// entry of the same chat keeps per-chat order across a crash: an entry is
// never left pending behind a later one of its chat that was handled.
type Acker struct {
	q     *Queue
	shard int
	token int64
	opts  AckerOptions
	g     *group[*ackCall]
}

type ackCall struct {
	ctx  context.Context
	id   string
	done chan error // capacity 1
}

// NewAcker returns the acker of shard under token (a shard q does not
// have gets its error from every Ack). Its goroutines start with the first
// Ack; Close stops them.
func (q *Queue) NewAcker(shard int, token int64, opts AckerOptions) *Acker {
	if opts.MaxBatch < 1 {
		opts.MaxBatch = 64
	}
	if opts.InFlight < 1 {
		opts.InFlight = 2
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	a := &Acker{q: q, shard: shard, token: token, opts: opts}
	a.g = newGroup(1, opts.MaxBatch, opts.InFlight, a.flush, func(c *ackCall) { c.done <- ErrAckerClosed })
	return a
}

// Close stops the acker: a call in flight completes and answers its acks;
// acks still waiting for one, and later ones, get ErrAckerClosed. Close is
// idempotent.
func (a *Acker) Close() { a.g.close() }

// Ack is Queue.Ack of entry id through the acker.
func (a *Acker) Ack(ctx context.Context, id string) error {
	c := &ackCall{ctx: ctx, id: id, done: make(chan error, 1)}
	return await(ctx, a.g, 0, c, c.done, ErrAckerClosed, func(err error) error { return err })
}

func (a *Acker) flush(_ int, batch []*ackCall) {
	ids := make([]string, 0, len(batch))
	send := make([]*ackCall, 0, len(batch))
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.done <- mapErr(c.ctx, err) // its caller is gone: it will ack again or leave it pending
			continue
		}
		ids = append(ids, c.id)
		send = append(send, c)
	}
	if len(send) == 0 {
		return
	}
	// not the group's context: a call under way completes on Close and is answered
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.Timeout)
	defer cancel()
	err := a.q.Ack(ctx, a.shard, a.token, ids...)
	if a.opts.Observe != nil {
		a.opts.Observe(len(send)) // before the answers: a caller that returned sees it
	}
	for _, c := range send {
		c.done <- err
	}
}
