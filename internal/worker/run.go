package worker

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// run is one term of one shard: from RunShard's start to its return.
type run struct {
	p     *Pool
	q     *queue.Queue
	acks  *queue.Acker // this term's acks, group-committed
	shard int
	label string // shard as a metric label
	token int64

	// ctx ends with the lease, on a fenced refusal, or on the pool's hard
	// stop; handlers run under it.
	ctx    context.Context
	cancel context.CancelFunc
	stopAF func() bool

	mu    sync.Mutex
	chats map[string]*chat
	held  map[string]bool // ids of the entries in hand
	wg    sync.WaitGroup  // chat goroutines

	workDone chan struct{} // reading stopped and every chat finished
	done     chan struct{} // RunShard returned
}

func newRun(p *Pool, ctx context.Context, shard int, token int64) *run {
	rctx, cancel := context.WithCancel(ctx)
	r := &run{p: p, q: p.cfg.Queue, shard: shard, label: strconv.Itoa(shard), token: token,
		ctx: rctx, cancel: cancel, chats: map[string]*chat{}, held: map[string]bool{},
		workDone: make(chan struct{}), done: make(chan struct{})}
	r.acks = r.q.NewAcker(shard, token, queue.AckerOptions{Timeout: p.cfg.WriteTimeout})
	r.stopAF = context.AfterFunc(p.hard, cancel)
	return r
}

// serve reads until stopped, then waits for the chats. A blocking wait still
// in flight is left to Pool.Close: it takes nothing.
func (r *run) serve() {
	r.read()
	r.wg.Wait()
	close(r.workDone)
	r.stopAF()
	r.cancel()
}

// taking reports whether the run may take more entries.
func (r *run) taking() bool { return r.ctx.Err() == nil && !r.p.isDraining() }

// read takes entries into the pool: first every entry left pending by
// anyone (oldest first), then new ones, never more than there are free
// workers. Its own pending entries that it does not hold (a read whose
// reply was lost: a timeout, a reset connection) are taken back before the
// next read after any failed one, and by a sweep every ReclaimIdle of the
// ones idle that long (a lost read that Redis ran late).
func (r *run) read() {
	recovering, cursor := true, ""
	rescan := false // a read failed: its entries may be ours without our knowing
	nextSweep := time.Now().Add(r.p.cfg.ReclaimIdle)
	failures := 0
	for r.taking() {
		slots := r.p.acquire(r.ctx)
		if slots == nil {
			return
		}
		var (
			entries []queue.Entry
			last    string
			err     error
			readNew bool
		)
		switch now := time.Now(); {
		case recovering:
			entries, cursor, err = r.q.ClaimPending(r.ctx, r.shard, r.token, r.p.cfg.Instance, cursor, len(slots))
			if err == nil && cursor == "" {
				recovering = false
				r.forgetConsumers()
			}
		case rescan || !now.Before(nextSweep):
			if !rescan {
				r.forgetConsumers() // consumers whose entries were claimed since
			}
			idle := r.p.cfg.ReclaimIdle
			if rescan {
				idle = 0
			}
			entries, err = r.q.Reclaim(r.ctx, r.shard, r.token, r.p.cfg.Instance, idle, len(slots), r.heldIDs())
			switch done := err == nil && len(entries) < len(slots); { // every one found
			case rescan && done:
				rescan, nextSweep = false, now.Add(r.p.cfg.ReclaimIdle)
			case !rescan && (done || err != nil): // a failed sweep waits for the next one
				nextSweep = now.Add(r.p.cfg.ReclaimIdle)
			}
			if len(entries) > 0 {
				r.p.cfg.Log.Service(zapcore.WarnLevel, telemetry.EvRedisError,
					"took back entries of this consumer whose read reply was lost",
					zap.Int(telemetry.FShard, r.shard), zap.Int("entries", len(entries)),
					zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)))
			}
		default:
			readNew = true
			entries, last, err = r.q.ReadNew(r.ctx, r.shard, r.token, r.p.cfg.Instance, len(slots))
		}
		r.p.release(slots[len(entries):]...)
		for i, e := range entries {
			r.add(&item{e: e, slot: slots[i]})
		}
		if err != nil {
			switch {
			case errors.Is(err, lease.ErrFenced):
				r.p.cfg.Log.Service(zapcore.WarnLevel, telemetry.EvRedisError, "read refused: the fencing token is no longer current",
					zap.Int(telemetry.FShard, r.shard), zap.Int64(telemetry.FToken, r.token),
					zap.String(telemetry.FReasonCode, string(telemetry.ReasonPassiveReject)))
				r.cancel()
				return
			case r.ctx.Err() != nil:
				return
			}
			if readNew {
				rescan = true // it may have run on Redis: its entries are ours now
			}
			r.redisError("read", err)
			failures++
			if !r.pause(r.p.redisBackoff(failures)) {
				return
			}
			continue
		}
		failures = 0
		if readNew && len(entries) == 0 {
			if err := r.wait(last, nextSweep); err != nil {
				r.redisError("wait", err)
				failures++
				if !r.pause(r.p.redisBackoff(failures)) {
					return
				}
			}
		}
	}
}

// forgetConsumers removes from the shard's group the consumers of
// instances that are gone: no pending entry (the recovery claims them all,
// a crashed instance's too) and not a live instance. Without it every
// restart under a new INSTANCE_ID (a pod name) would add one for good. It
// runs when the recovery has walked the pending list and at every sweep
// (the recovery can be slow while every worker is busy). Failures are
// logged and left to the next time.
func (r *run) forgetConsumers() {
	if r.p.cfg.Live == nil {
		return
	}
	consumers, err := r.q.Consumers(r.ctx, r.shard)
	if err != nil {
		r.redisError("list consumers", err)
		return
	}
	var idle []string
	for _, c := range consumers {
		if c.Name != r.p.cfg.Instance && c.Pending == 0 {
			idle = append(idle, c.Name)
		}
	}
	if len(idle) == 0 {
		return
	}
	live, err := r.p.cfg.Live(r.ctx, idle)
	if err != nil {
		r.redisError("check live instances", err)
		return
	}
	var gone []string
	for _, name := range idle {
		if !live[name] {
			gone = append(gone, name)
		}
	}
	if _, err := r.q.ForgetConsumers(r.ctx, r.shard, r.token, gone); err != nil && r.ctx.Err() == nil {
		r.redisError("remove consumers", err)
	}
}

// wait blocks until an entry may be there after last, the run stops, the
// pool drains, or the sweep is due. The blocking call itself takes
// nothing, so leaving it behind is safe; Pool.Close waits for it.
func (r *run) wait(last string, sweep time.Time) error {
	errc := make(chan error, 1)
	r.p.waiters.Add(1)
	go func() {
		defer r.p.waiters.Done()
		errc <- r.q.WaitNew(r.ctx, r.shard, last, r.p.cfg.Block)
	}()
	due := time.NewTimer(max(time.Until(sweep), 0))
	defer due.Stop()
	select {
	case err := <-errc:
		if r.ctx.Err() != nil {
			return nil
		}
		return err
	case <-r.ctx.Done():
	case <-r.p.draining:
	case <-due.C:
	}
	return nil
}

// pause waits d; false when the run stopped or the pool drains meanwhile.
func (r *run) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.ctx.Done():
	case <-r.p.draining:
	}
	return false
}

// redisError logs a failed Redis call, at most once a second per pool.
func (r *run) redisError(what string, err error) {
	now := time.Now().UnixNano()
	last := r.p.redisLog.Load()
	if now-last < int64(time.Second) || !r.p.redisLog.CompareAndSwap(last, now) {
		return
	}
	r.p.cfg.Log.Service(zapcore.WarnLevel, telemetry.EvRedisError, "redis call failed; backing off: "+what,
		zap.Int(telemetry.FShard, r.shard), zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)),
		zap.Error(err))
}

// redisBackoff is the wait before attempt n+1 after n failures: doubling
// from RedisBackoff up to RedisBackoffMax, with up to 20% jitter.
func (p *Pool) redisBackoff(n int) time.Duration {
	return jitter(doubling(p.cfg.RedisBackoff, p.cfg.RedisBackoffMax, n))
}

// retryBackoff is the wait before the delivery after delivery n failed.
func (p *Pool) retryBackoff(n int64) time.Duration {
	return doubling(p.cfg.RetryBackoff, p.cfg.RetryBackoffMax, int(n))
}

func doubling(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}
