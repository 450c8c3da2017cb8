package queue

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
)

// gateHook holds the first script call made after arm until gate is
// closed (after closing entered).
type gateHook struct {
	armed   atomic.Bool
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func newGateHook() *gateHook {
	return &gateHook{gate: make(chan struct{}), entered: make(chan struct{})}
}

func (h *gateHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *gateHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); h.armed.Load() && (n == "evalsha" || n == "eval") {
			h.once.Do(func() { close(h.entered); <-h.gate })
		}
		return next(ctx, cmd)
	}
}

func (h *gateHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// pendingIDs makes a queue whose shard 0 holds n entries of one chat, all
// taken into consumer "a" under token (the lease's current one), and
// returns their ids.
func pendingIDs(t *testing.T, n int, token int64) (*Queue, *redis.Client, keys.Space, []string) {
	t.Helper()
	q, c, ks := newQueue(t, Options{})
	enqueueN(t, q, 1, int64(n), 1)
	setLease(t, c, ks, 0, token)
	entries, _, err := q.ReadNew(testCtx(t), 0, token, "a", n)
	require.NoError(t, err)
	require.Len(t, entries, n)
	ids := make([]string, n)
	for i, e := range entries {
		ids[i] = e.ID
	}
	return q, c, ks, ids
}

// TestAckerSharesOneCallAndAnswersEachCaller: acks made while one is in
// flight go together in the next script call, and each caller is answered
// once its entry is acknowledged and gone from the stream.
func TestAckerSharesOneCallAndAnswersEachCaller(t *testing.T) {
	q, c, ks, ids := pendingIDs(t, 10, 3)
	ctx := testCtx(t)
	hook := newGateHook()
	c.AddHook(hook)
	var sizes []int
	var mu sync.Mutex
	a := q.NewAcker(0, 3, AckerOptions{InFlight: 1, Observe: func(n int) { mu.Lock(); sizes = append(sizes, n); mu.Unlock() }})
	t.Cleanup(a.Close)
	hook.armed.Store(true)

	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { errs[i] = a.Ack(ctx, id) })
		if i == 0 {
			<-hook.entered // the first ack's call is in flight, held
		}
	}
	require.Eventually(t, func() bool { return len(a.g.chans[0]) == len(ids)-1 }, 10*time.Second, time.Millisecond)
	close(hook.gate)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "ack %d", i)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int{1, len(ids) - 1}, sizes, "the first alone, then all the others in one call")
	require.Zero(t, c.XLen(ctx, ks.Shard(0).Stream()).Val(), "acked entries leave the stream")
	require.Zero(t, c.XPending(ctx, ks.Shard(0).Stream(), keys.Group).Val().Count)
}

// TestAckerUnderAStaleTokenAcksNothing: once a successor holds the lease,
// every ack of the batch is refused with ErrFenced and stays pending.
func TestAckerUnderAStaleTokenAcksNothing(t *testing.T) {
	q, c, ks, ids := pendingIDs(t, 4, 3)
	ctx := testCtx(t)
	setLease(t, c, ks, 0, 4) // a successor took the lease
	a := q.NewAcker(0, 3, AckerOptions{})
	t.Cleanup(a.Close)
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() { errs[i] = a.Ack(ctx, id) })
	}
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, lease.ErrFenced)
	}
	require.EqualValues(t, 4, c.XPending(ctx, ks.Shard(0).Stream(), keys.Group).Val().Count)
	require.EqualValues(t, 4, c.XLen(ctx, ks.Shard(0).Stream()).Val())
}

// TestAckerClosed: Close lets the call in flight finish and answer; later
// acks get ErrAckerClosed (unconfirmed) and leave their entry pending.
func TestAckerClosed(t *testing.T) {
	q, c, ks, ids := pendingIDs(t, 2, 1)
	ctx := testCtx(t)
	hook := newGateHook()
	c.AddHook(hook)
	a := q.NewAcker(0, 1, AckerOptions{})
	hook.armed.Store(true)
	first := make(chan error, 1)
	go func() { first <- a.Ack(ctx, ids[0]) }()
	<-hook.entered
	closed := make(chan struct{})
	go func() { a.Close(); close(closed) }()
	require.Never(t, func() bool {
		select {
		case <-closed:
			return true
		default:
			return false
		}
	}, 50*time.Millisecond, time.Millisecond, "Close waits for the call in flight")
	close(hook.gate)
	<-closed
	require.NoError(t, <-first, "the call in flight is answered")
	err := a.Ack(ctx, ids[1])
	require.ErrorIs(t, err, ErrAckerClosed)
	require.ErrorIs(t, err, ErrUnavailable)
	require.EqualValues(t, 1, c.XPending(ctx, ks.Shard(0).Stream(), keys.Group).Val().Count)
	a.Close() // idempotent
}

// TestAckManyIDs: Queue.Ack takes several ids in one fenced call.
func TestAckManyIDs(t *testing.T) {
	q, c, ks, ids := pendingIDs(t, 3, 2)
	ctx := testCtx(t)
	require.NoError(t, q.Ack(ctx, 0, 2, ids...))
	require.NoError(t, q.Ack(ctx, 0, 2), "no ids: nothing to do")
	require.Zero(t, c.XLen(ctx, ks.Shard(0).Stream()).Val())
	require.Zero(t, c.XPending(ctx, ks.Shard(0).Stream(), keys.Group).Val().Count)
}
