package journal

import (
	"context"
	"slices"
	"time"
)

// gatherer is the state of the Run goroutine: each cid's events held
// until this instance's part of the chain ends, then handed to the writer.
type gatherer struct {
	j      *Journal
	pend   map[string]*pending  // by cid
	ready  int                  // of which ready to be written
	capped map[string]time.Time // cids past MaxEvents -> forget after
	outbox []*pending           // ready, not yet taken by the writer
	all    bool                 // the outbox is a Flush's: move failing chains at once
}

func (g *gatherer) init(j *Journal) {
	g.j = j
	g.pend = map[string]*pending{}
	g.capped = map[string]time.Time{}
}

// run gathers until ctx is done, then hands everything held to the writer
// and waits for it to finish (each write bounded by writeTimeout).
func (g *gatherer) run(ctx context.Context) {
	out := make(chan batch, 1)
	done := make(chan struct{})
	// a write in flight when ctx ends is finished, bounded by its timeout
	go func() { defer close(done); g.j.w.run(context.WithoutCancel(ctx), out) }()
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			g.gather()
			g.collect(true)
			if len(g.outbox) > 0 {
				out <- batch{blocks: g.outbox, all: true}
			}
			close(out)
			<-done
			return
		case <-g.j.wake:
			g.gather()
			if g.ready >= batchBlocks || len(g.pend) > maxPending {
				g.collect(false)
			}
		case <-g.j.kick:
			g.gather()
			g.collect(true)
			g.all = true
		case <-tick.C:
			g.gather()
			g.collect(false)
			g.forget(g.j.now())
		}
		g.handOver(out)
	}
}

// gather takes what is already queued, without waiting.
func (g *gatherer) gather() {
	for {
		select {
		case ev := <-g.j.ch:
			g.add(ev)
		default:
			return
		}
	}
}

func (g *gatherer) add(ev *event) {
	now := g.j.now()
	key, _ := cidKey(ev.update.CID)
	debug := g.j.w.view.Load().debugUser(ev.update.UserID, now.UnixMilli())
	if !debug {
		if until, ok := g.capped[key]; ok && now.Before(until) {
			g.j.finished(1) // past MaxEvents: not kept (the chain says so)
			return
		}
	}
	p := g.pend[key]
	if p != nil && p.update.UpdateID != ev.update.UpdateID {
		g.take(key, p) // another update with the same cid: its own block
		g.outbox = append(g.outbox, p)
		p = nil
	}
	if p == nil {
		p = newPending(ev, now)
		g.pend[key] = p
	}
	wasReady := p.ready
	p.add(ev)
	if p.n >= MaxEvents && !debug {
		p.trunc, p.ready = true, true
		g.capped[key] = now.Add(failingMemory)
	}
	if p.ready && !wasReady {
		g.ready++
	}
}

// take removes a held block.
func (g *gatherer) take(key string, p *pending) {
	delete(g.pend, key)
	if p.ready {
		g.ready--
	}
}

// collect moves to the outbox the held blocks that are ready (their part
// ended, or held for long enough), or all of them; and the oldest when
// too many are held.
func (g *gatherer) collect(all bool) {
	now := g.j.now()
	for k, p := range g.pend {
		if all || p.ready || now.Sub(p.started) >= hold {
			g.outbox = append(g.outbox, p)
			g.take(k, p)
		}
	}
	if over := len(g.pend) - maxPending; over > 0 {
		rest := make([]*pending, 0, len(g.pend))
		for _, p := range g.pend {
			rest = append(rest, p)
		}
		slices.SortFunc(rest, func(a, b *pending) int { return a.started.Compare(b.started) })
		for _, p := range rest[:over] {
			g.outbox = append(g.outbox, p)
			g.take(mustKey(p.cid), p)
		}
	}
	// a writer that cannot keep up: the oldest blocks are lost, counted
	if over := len(g.outbox) - maxPending; over > 0 {
		lost := 0
		for _, p := range g.outbox[:over] {
			lost += p.n
		}
		g.j.fail(lost)
		g.j.dropped.Add(int64(lost))
		g.j.finished(lost)
		g.outbox = append(g.outbox[:0], g.outbox[over:]...)
	}
}

// handOver gives the outbox to the writer when it is free.
func (g *gatherer) handOver(out chan<- batch) {
	if len(g.outbox) == 0 {
		return
	}
	slices.SortFunc(g.outbox, func(a, b *pending) int { return a.started.Compare(b.started) })
	select {
	case out <- batch{blocks: g.outbox, all: g.all}:
		g.outbox, g.all = nil, false
	default: // busy: the next tick tries again
	}
}

func (g *gatherer) forget(now time.Time) {
	for k, until := range g.capped {
		if now.After(until) {
			delete(g.capped, k)
		}
	}
}
