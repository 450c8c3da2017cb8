package worker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Pool dispatches the updates of the shards this instance leads. It owns
// the goroutines it starts: each RunShard returns only after its workers
// (but not abandoned handlers) have stopped.
type Pool struct {
	cfg Config

	slots chan int // free worker ids; an entry in hand holds one

	drainOnce sync.Once
	draining  chan struct{} // closed by Drain: stop reading

	// hard is cancelled when Drain's context ends: running handlers are
	// cancelled and nothing more is attempted.
	hard     context.Context
	hardStop context.CancelFunc

	mu   sync.Mutex
	runs map[int]*run // the current run of each shard

	abandoned atomic.Int64
	redisLog  atomic.Int64 // unix nanos of the last REDIS_ERROR line, to rate-limit

	// waiters are blocking waits for new entries (XREAD BLOCK) that a run
	// left behind when it stopped: they take nothing, so a run does not wait
	// for them (a blocked read ignores cancellation until its BLOCK ends,
	// which would delay the lease's release on shutdown by up to Block).
	// Close waits for them.
	waiters sync.WaitGroup
}

// Close waits for the blocking waits that stopped runs left behind (at most
// Block). Call it after the last RunShard returned.
func (p *Pool) Close() { p.waiters.Wait() }

// New returns a pool; see Config for what is required.
func New(cfg Config) (*Pool, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, slots: make(chan int, cfg.Workers), draining: make(chan struct{}), runs: map[int]*run{}}
	for i := 0; i < cfg.Workers; i++ {
		p.slots <- i
	}
	p.hard, p.hardStop = context.WithCancel(context.Background())
	return p, nil
}

// RunShard dispatches shard's updates under token until ctx ends (the
// lease is gone), the token is refused, or the pool is drained. It is meant
// to be lease.Config.OnStarted. A second RunShard of the same shard waits
// until the first one has returned.
func (p *Pool) RunShard(ctx context.Context, shard int, token int64) {
	if shard < 0 || shard >= p.cfg.Queue.Shards() {
		p.cfg.Log.Service(zapcore.ErrorLevel, telemetry.EvServiceStopping, "RunShard: no such shard",
			zap.Int(telemetry.FShard, shard), zap.Int("shards", p.cfg.Queue.Shards()))
		return
	}
	p.mu.Lock()
	if p.isDraining() {
		p.mu.Unlock()
		return
	}
	prev := p.runs[shard]
	r := newRun(p, ctx, shard, token)
	p.runs[shard] = r
	p.mu.Unlock()

	defer func() {
		p.mu.Lock()
		if p.runs[shard] == r {
			delete(p.runs, shard)
		}
		p.mu.Unlock()
		r.stopAF()
		r.cancel()
		r.acks.Close() // every chat has returned: no ack is made after this
		close(r.done)
	}()
	if prev != nil {
		select {
		case <-prev.done:
		case <-r.ctx.Done():
			close(r.workDone)
			return
		}
	}
	r.serve()
}

// Drain stops reading on every shard and waits until the updates in hand
// are finished and acknowledged (retries are not started; their entries
// stay pending). When ctx ends first, running handlers are cancelled, the
// rest is left pending for the successor, and the error wraps
// ErrDrainIncomplete and ctx's error. RunShard calls that come after Drain
// return at once.
func (p *Pool) Drain(ctx context.Context) error {
	p.mu.Lock()
	p.drainOnce.Do(func() { close(p.draining) })
	runs := make([]*run, 0, len(p.runs))
	for _, r := range p.runs {
		runs = append(runs, r)
	}
	p.mu.Unlock()
	for _, r := range runs {
		select {
		case <-r.workDone:
		case <-ctx.Done():
			p.hardStop()
			return fmt.Errorf("%w: %d updates left pending: %w", ErrDrainIncomplete, p.InHand(), ctx.Err())
		}
	}
	return nil
}

// InHand returns the updates this pool holds right now (dispatching,
// waiting for their chat, or waiting for a retry).
func (p *Pool) InHand() int { return p.cfg.Workers - len(p.slots) }

// Abandoned returns how many handler goroutines were abandoned because they
// ignored their context for AbandonAfter past HandlerTimeout.
func (p *Pool) Abandoned() int64 { return p.abandoned.Load() }

func (p *Pool) isDraining() bool {
	select {
	case <-p.draining:
		return true
	default:
		return false
	}
}

// acquire waits for at least one free worker and takes every free one; it
// returns nil when ctx ends or the pool drains first.
func (p *Pool) acquire(ctx context.Context) []int {
	var got []int
	select {
	case s := <-p.slots:
		got = append(got, s)
	case <-ctx.Done():
		return nil
	case <-p.draining:
		return nil
	}
	for len(got) < p.cfg.Workers {
		select {
		case s := <-p.slots:
			got = append(got, s)
		default:
			return got
		}
	}
	return got
}

func (p *Pool) release(slots ...int) {
	for _, s := range slots {
		p.slots <- s
	}
}
