package queue

import (
	"context"
	"sync"
)

// group is the loop shared by the group-commit types (Batcher, Acker):
// calls arrive on one channel per key (a shard); inFlight goroutines per
// channel each take the first call that arrives, then whatever else is
// already waiting (at most max), and hand the batch to flush, which
// answers every call in it. There is no timer: a call that finds a
// goroutine idle is flushed at once, alone; calls that arrive while every
// goroutine is in a round trip form the next batches. So an idle key adds
// no latency, and under load the round trips per call fall with the load.
//
// Its goroutines start with the first call (start) and stop on close:
// flushes under way complete and answer their calls; calls still waiting,
// and later ones, are handed to refuse.
type group[C any] struct {
	chans    []chan C
	max      int
	inFlight int
	flush    func(key int, batch []C)
	refuse   func(C)

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped chan struct{} // closed once every goroutine returned: no flush after it
	started sync.Once
	closed  sync.Once
}

func newGroup[C any](keys, max, inFlight int, flush func(int, []C), refuse func(C)) *group[C] {
	ctx, cancel := context.WithCancel(context.Background())
	g := &group[C]{max: max, inFlight: inFlight, flush: flush, refuse: refuse, ctx: ctx, cancel: cancel,
		stopped: make(chan struct{})}
	for range keys {
		g.chans = append(g.chans, make(chan C, 4*max))
	}
	return g
}

// submit hands c to key's goroutines; false when ctx ended first (c was
// not taken) or the group is closed (c was given to refuse, or not taken).
func (g *group[C]) submit(ctx context.Context, key int, c C) (taken bool, err error) {
	g.started.Do(g.startAll)
	select {
	case g.chans[key] <- c:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-g.ctx.Done():
		return false, nil
	}
}

// await hands c to key's goroutines and waits for its reply on done, which
// the flush writes. fail makes the reply of a call that got none: the
// caller's context ended (ErrUnavailable, as mapErr says) or the group
// closed (closed).
func await[C, R any](ctx context.Context, g *group[C], key int, c C, done <-chan R, closed error, fail func(error) R) R {
	taken, err := g.submit(ctx, key, c)
	switch {
	case err != nil:
		return fail(mapErr(ctx, err))
	case !taken:
		return fail(closed)
	}
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		return fail(mapErr(ctx, ctx.Err()))
	case <-g.stopped:
		select { // every reply is written before stopped is closed
		case r := <-done:
			return r
		default:
			return fail(closed)
		}
	}
}

func (g *group[C]) startAll() {
	for key, ch := range g.chans {
		for range g.inFlight {
			g.wg.Add(1)
			go g.run(key, ch)
		}
	}
}

// close stops the goroutines (see group); it is idempotent.
func (g *group[C]) close() {
	g.closed.Do(func() {
		g.started.Do(func() {}) // none start after this
		g.cancel()
		g.wg.Wait()
		for _, ch := range g.chans { // what was sent after the goroutines took their last
			for drained := false; !drained; {
				select {
				case c := <-ch:
					g.refuse(c)
				default:
					drained = true
				}
			}
		}
		close(g.stopped)
	})
}

func (g *group[C]) run(key int, ch chan C) {
	defer g.wg.Done()
	batch := make([]C, 0, g.max)
	for {
		select {
		case <-g.ctx.Done():
			return
		case c := <-ch:
			batch = append(batch[:0], c)
		}
	fill: // whatever arrived meanwhile, without waiting for more
		for len(batch) < g.max {
			select {
			case c := <-ch:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		g.flush(key, batch)
		clear(batch)
	}
}
