package lease

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
)

// started is one OnStarted call.
type started struct {
	ctx   context.Context
	shard int
	token int64
	at    time.Time // real time
}

// stopped is one OnStopped call; workEnded tells whether the matching
// OnStarted had returned before.
type stopped struct {
	shard     int
	token     int64
	workEnded bool
	at        time.Time
}

// node is a Manager under test with its callbacks recorded.
type node struct {
	id      string
	m       *Manager
	log     *logBuf
	started chan started
	stopped chan stopped
	cancel  context.CancelFunc
	done    chan error // Run's result

	mu      sync.Mutex
	running map[int64]bool // OnStarted calls that have not returned
	// work, when set, is run by OnStarted instead of waiting for ctx.
	work func(ctx context.Context, shard int, token int64)
}

// newNode builds a Manager for instance id on client c (cfg supplies TTL and
// options; the rest is filled in) without running it.
func newNode(t *testing.T, id string, c redis.UniversalClient, ks keys.Space, cfg Config) *node {
	t.Helper()
	log, buf := newLog(t, id)
	n := &node{id: id, log: buf, started: make(chan started, 64), stopped: make(chan stopped, 64), running: map[int64]bool{}}
	cfg.Client, cfg.Keys, cfg.Instance, cfg.Log, cfg.Metrics = c, ks, id, log, metrics.NewTest()
	if cfg.Shards == 0 {
		cfg.Shards = 1
	}
	cfg.OnStarted = func(ctx context.Context, shard int, token int64) {
		n.mu.Lock()
		n.running[token] = true
		work := n.work
		n.mu.Unlock()
		n.started <- started{ctx: ctx, shard: shard, token: token, at: time.Now()}
		if work != nil {
			work(ctx, shard, token)
		} else {
			<-ctx.Done()
		}
		n.mu.Lock()
		delete(n.running, token)
		n.mu.Unlock()
	}
	cfg.OnStopped = func(shard int, token int64) {
		n.mu.Lock()
		ended := !n.running[token]
		n.mu.Unlock()
		n.stopped <- stopped{shard: shard, token: token, workEnded: ended, at: time.Now()}
	}
	m, err := NewManager(cfg)
	require.NoError(t, err)
	n.m = m
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s:\n%s", id, tail(buf.String(), 6000))
		}
	})
	return n
}

// start runs the Manager until the test ends or stop is called.
func (n *node) start(t *testing.T) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- n.m.Run(ctx) }()
	t.Cleanup(func() { n.stop(t) })
	return n
}

// stop cancels Run and waits (bounded) for it to return.
func (n *node) stop(t *testing.T) {
	t.Helper()
	if n.cancel == nil {
		return
	}
	n.cancel()
	select {
	case err := <-n.done:
		require.NoError(t, err)
		n.done <- err // keep it for later stop calls
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: Run did not return", n.id)
	}
}

// waitStarted waits (bounded) for the next OnStarted call.
func (n *node) waitStarted(t *testing.T, within time.Duration) started {
	t.Helper()
	select {
	case s := <-n.started:
		return s
	case <-time.After(within):
		t.Fatalf("%s: not started within %s:\n%s", n.id, within, tail(n.log.String(), 3000))
	}
	return started{}
}

// waitStopped waits (bounded) for the next OnStopped call.
func (n *node) waitStopped(t *testing.T, within time.Duration) stopped {
	t.Helper()
	select {
	case s := <-n.stopped:
		return s
	case <-time.After(within):
		t.Fatalf("%s: not stopped within %s:\n%s", n.id, within, tail(n.log.String(), 3000))
	}
	return stopped{}
}

// waitDone waits (bounded) for ctx to be cancelled.
func waitDone(t *testing.T, ctx context.Context, within time.Duration, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(within):
		t.Fatalf("%s: context not cancelled within %s", what, within)
	}
}

// eventually polls cond every few milliseconds until it holds or within
// has passed.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(2 * time.Millisecond) // poll interval of a bounded wait
	}
}
