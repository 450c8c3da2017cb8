package queue

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
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
// sent to Redis together, as one pipeline of the enqueue script's calls
// (and, with Options.WaitReplicas, one WAIT after them), on the shard's
// master, and each caller is answered when its own entry's reply is back.
//
// It has InFlight goroutines per shard and no timer: a call that finds one
// of them idle is sent at once, alone; the calls that arrive while they are
// all in a round trip form the next one (at most MaxBatch). So an idle
// instance adds no latency, and under load the number of round trips per
// update falls with the load.
//
// Guarantees are Enqueue's, per call: the same script runs for every entry
// (dedupe, backlog check, append, marker, atomically per entry), so a
// duplicate, a full backlog or a replica shortfall is reported to the call
// it concerns alone; nil error means the entry and its marker are in Redis.
// Entries of one round trip are appended in the order their calls reached
// the batcher; calls that overlap in time have no order anyway (two round
// trips of a shard in flight carry only calls that overlapped), and a call
// made after another returned is appended after it. A call whose
// context has ended before its round trip is sent is dropped from it
// (nothing appended); one that ends during the round trip gets an error
// wrapping ErrUnavailable (the append is unconfirmed, as with Enqueue).
type Batcher struct {
	q      *Queue
	opts   BatchOptions
	shards []chan *batchCall
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// stopped is closed once every shard goroutine has returned: no reply
	// is written after it.
	stopped chan struct{}
	start   sync.Once // the goroutines start with the first call
	once    sync.Once
}

type batchCall struct {
	ctx  context.Context
	e    Envelope
	keys []string
	args []any
	done chan batchReply // capacity 1: the goroutine never blocks on it
}

type batchReply struct {
	res EnqueueResult
	err error
}

// NewBatcher returns the batcher of q's shards. Its goroutines (one per
// shard) start with the first Enqueue; Close stops them.
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
	ctx, cancel := context.WithCancel(context.Background())
	b := &Batcher{q: q, opts: opts, ctx: ctx, cancel: cancel, stopped: make(chan struct{})}
	for n := 0; n < q.opts.Shards; n++ {
		b.shards = append(b.shards, make(chan *batchCall, 4*opts.MaxBatch))
	}
	return b
}

func (b *Batcher) startAll() {
	for n, ch := range b.shards {
		for i := 0; i < b.opts.InFlight; i++ {
			b.wg.Add(1)
			go b.run(n, ch)
		}
	}
}

// Close stops the batcher: a round trip in flight completes and answers
// its calls; calls still waiting for one, and later calls, get
// ErrBatcherClosed. Close is idempotent.
func (b *Batcher) Close() {
	b.once.Do(func() {
		b.start.Do(func() {}) // none start after this
		b.cancel()
		b.wg.Wait()
		close(b.stopped)
	})
}

// Enqueue is Queue.Enqueue through the batcher (the webhook's appends; the
// poller's fenced appends use Queue.EnqueuePolled).
func (b *Batcher) Enqueue(ctx context.Context, e Envelope) (EnqueueResult, error) {
	keys, args, err := b.q.enqueueCall(e, 0)
	if err != nil {
		return EnqueueResult{}, err
	}
	b.start.Do(b.startAll)
	c := &batchCall{ctx: ctx, e: e, keys: keys, args: args, done: make(chan batchReply, 1)}
	select {
	case b.shards[e.Shard] <- c:
	case <-ctx.Done():
		return EnqueueResult{}, mapErr(ctx, ctx.Err())
	case <-b.ctx.Done():
		return EnqueueResult{}, ErrBatcherClosed
	}
	select {
	case r := <-c.done:
		return r.res, r.err
	case <-ctx.Done():
		return EnqueueResult{}, mapErr(ctx, ctx.Err())
	case <-b.stopped:
		select { // every reply is written before stopped is closed
		case r := <-c.done:
			return r.res, r.err
		default:
			return EnqueueResult{}, ErrBatcherClosed
		}
	}
}

func (b *Batcher) run(shard int, ch chan *batchCall) {
	defer b.wg.Done()
	batch := make([]*batchCall, 0, b.opts.MaxBatch)
	for {
		select {
		case <-b.ctx.Done():
			for {
				select {
				case c := <-ch:
					c.done <- batchReply{err: ErrBatcherClosed}
				default:
					return
				}
			}
		case c := <-ch:
			batch = append(batch[:0], c)
		}
	fill: // whatever arrived meanwhile, without waiting for more
		for len(batch) < b.opts.MaxBatch {
			select {
			case c := <-ch:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		b.flush(shard, batch)
		clear(batch)
	}
}

// flush sends one round trip for batch and answers every call in it.
func (b *Batcher) flush(shard int, batch []*batchCall) {
	send := make([]*batchCall, 0, len(batch))
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.done <- batchReply{err: mapErr(c.ctx, err)} // its caller is gone: append nothing
			continue
		}
		send = append(send, c)
	}
	if len(send) == 0 {
		return
	}
	if b.opts.Observe != nil {
		defer b.opts.Observe(shard, len(send))
	}
	// not b.ctx: a round trip under way completes on Close and is answered
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.Timeout)
	defer cancel()
	wait := b.q.opts.WaitReplicas > 0
	var node redis.Cmdable = b.q.c
	if wait { // WAIT counts the writes of its own connection: the shard's master
		var err error
		if node, err = b.q.masterFor(ctx, b.q.ks.Shard(shard).Stream()); err != nil {
			for _, c := range send {
				c.done <- batchReply{err: mapErr(ctx, err)}
			}
			return
		}
	}
	cmds := make([]*redis.Cmd, len(send))
	acked := make([]int64, len(send))
	var waitErr []error
	if wait {
		waitErr = make([]error, len(send))
	}
	pipe := func(idx []int, sha bool) {
		var w *redis.Cmd
		_, _ = node.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range idx {
				if sha {
					cmds[i] = enqueueScript.EvalSha(ctx, p, send[i].keys, send[i].args...)
				} else {
					cmds[i] = enqueueScript.Eval(ctx, p, send[i].keys, send[i].args...)
				}
			}
			if wait {
				w = p.Do(ctx, "WAIT", b.q.opts.WaitReplicas, b.q.opts.WaitTimeout.Milliseconds())
			}
			return nil
		}) // each command carries its own error
		for _, i := range idx {
			acked[i] = -1
			if wait {
				acked[i], waitErr[i] = w.Int64()
			}
		}
	}
	all := make([]int, len(send))
	for i := range all {
		all[i] = i
	}
	pipe(all, true)
	var missing []int // the script is not in this server's cache (restart, failover, SCRIPT FLUSH)
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		pipe(missing, false)
	}
	for i, c := range send {
		res, err := cmds[i].Slice()
		if err == nil && wait && waitErr[i] != nil {
			err = waitErr[i]
		}
		r, err := b.q.enqueueReply(ctx, c.e, res, err, acked[i])
		c.done <- batchReply{res: r, err: err}
	}
}
