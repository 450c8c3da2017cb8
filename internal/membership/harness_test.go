package membership

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// realClient returns a client of the test redis-server and a fresh
// namespace.
func realClient(t *testing.T) (*redis.Client, keys.Space) {
	t.Helper()
	_, ns := redistest.Client(t) // namespace and cleanup
	return dial(t, redistest.URL(t)), keys.New(ns)
}

// dial returns a client of url that honours context deadlines, closed at
// cleanup.
func dial(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	opt.ContextTimeoutEnabled = true
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// logBuf collects the JSON lines of a test Logger.
type logBuf struct{ logtest.Buffer }

func (b *logBuf) events(name string) []map[string]any { return b.Events(name) }

// node is a lease Manager whose shard work waits for its context.
type node struct {
	id     string
	m      *lease.Manager
	log    *logBuf
	cancel context.CancelFunc
	done   chan error
}

func newNode(t *testing.T, id string, c redis.UniversalClient, ks keys.Space, cfg lease.Config) *node {
	t.Helper()
	buf := &logBuf{}
	log, err := telemetry.New(telemetry.Options{Format: "json", Level: zapcore.DebugLevel, Instance: id, Output: buf})
	require.NoError(t, err)
	cfg.Client, cfg.Keys, cfg.Instance, cfg.Log, cfg.Metrics = c, ks, id, log, metrics.NewTest()
	cfg.OnStarted = func(ctx context.Context, shard int, token int64) { <-ctx.Done() }
	m, err := lease.NewManager(cfg)
	require.NoError(t, err)
	return &node{id: id, m: m, log: buf}
}

func (n *node) start(t *testing.T) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- n.m.Run(ctx) }()
	t.Cleanup(func() { n.stop(t) })
	return n
}

func (n *node) stop(t *testing.T) {
	t.Helper()
	if n.cancel == nil {
		return
	}
	n.cancel()
	select {
	case err := <-n.done:
		require.NoError(t, err)
		n.done <- err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: Run did not return", n.id)
	}
}

// eventually waits (bounded) for cond.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !proctest.Eventually(within, 2*time.Millisecond, cond) {
		t.Fatalf("not within %s: %s", within, what)
	}
}
