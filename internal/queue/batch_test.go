package queue

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// tripHook counts the round trips that carry enqueue script calls and how
// many each carried; once armed with a gate, the first such round trip
// waits for it to be closed (after closing entered).
type tripHook struct {
	armed   atomic.Bool
	mu      sync.Mutex
	sizes   []int
	started []time.Time
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
}

// enqueued returns the number of entries cmd appends: those of an enqueue
// script call (its keys beyond the stream and the poll fence), else 0.
func enqueued(cmd redis.Cmder) int {
	args := cmd.Args()
	if len(args) < 3 {
		return 0
	}
	switch cmd.Name() {
	case "evalsha":
		if args[1] != enqueueScript.Hash() {
			return 0
		}
	case "eval":
		if args[1] != enqueueLua {
			return 0
		}
	default:
		return 0
	}
	n, _ := args[2].(int)
	return n - 2
}

func (h *tripHook) trip(n int) {
	h.mu.Lock()
	h.sizes = append(h.sizes, n)
	h.started = append(h.started, time.Now())
	h.mu.Unlock()
	if h.armed.Load() {
		h.once.Do(func() { close(h.entered); <-h.gate })
	}
}

func (h *tripHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *tripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := enqueued(cmd); n > 0 {
			h.trip(n)
		}
		return next(ctx, cmd)
	}
}

func (h *tripHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := 0
		for _, c := range cmds {
			n += enqueued(c)
		}
		if n > 0 {
			h.trip(n)
		}
		return next(ctx, cmds)
	}
}

// arm forgets the round trips so far and holds the next one until gate is
// closed.
func (h *tripHook) arm() {
	h.mu.Lock()
	h.sizes, h.started = nil, nil
	h.mu.Unlock()
	h.armed.Store(true)
}

func (h *tripHook) trips() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.sizes...)
}

func newBatcher(t *testing.T, opts Options, hook *tripHook) (*Batcher, *Queue, *redis.Client, keys.Space) {
	t.Helper()
	q, c, ks := newQueue(t, opts)
	c.AddHook(hook)
	b := NewBatcher(q, BatchOptions{InFlight: 1}) // one round trip at a time: the tests hold it
	t.Cleanup(b.Close)
	return b, q, c, ks
}

// queued waits until n calls wait in shard 0's queue of the batcher.
func queued(t *testing.T, b *Batcher, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(b.g.chans[0]) == n }, 10*time.Second, time.Millisecond,
		"%d calls should be queued, %d are", n, len(b.g.chans[0]))
}

type outcome struct {
	res EnqueueResult
	err error
}

// TestBatcherCoalescesAndAnswersEachCall: while one round trip is in flight,
// the calls that arrive meanwhile go together in the next one, and each gets
// its own answer: appended with its own id and depth, a duplicate of an
// earlier update, a duplicate of an entry of the same round trip, and a
// refusal for the full backlog (written nothing).
func TestBatcherCoalescesAndAnswersEachCall(t *testing.T) {
	hook := &tripHook{gate: make(chan struct{}), entered: make(chan struct{})}
	b, q, c, ks := newBatcher(t, Options{MaxBacklog: 10, DedupeWindow: time.Hour}, hook)
	ctx := testCtx(t)
	old := env(1, 7)
	old.CID = "0000aaaa"
	_, err := q.Enqueue(ctx, old) // not through the batcher; it loads the script too
	require.NoError(t, err)
	hook.arm()

	var calls []Envelope
	for uid := int64(2); uid <= 10; uid++ { // 2 is held in flight, 3..10 fill the backlog to 10
		e := env(uid, uid)
		e.CID = fmt.Sprintf("%08x", uid)
		calls = append(calls, e)
	}
	repeat := env(5, 5) // a resend of an entry of the same round trip
	repeat.CID = "0000bbbb"
	resend := env(1, 7) // a resend of the update appended before
	resend.CID = "0000cccc"
	full := env(11, 11)
	full.CID = "0000000b"
	calls = append(calls, repeat, resend, full)

	out := make([]outcome, len(calls))
	var wg sync.WaitGroup
	for i, e := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := b.Enqueue(ctx, e)
			out[i] = outcome{res, err}
		}()
		if i == 0 {
			<-hook.entered // the first call's round trip is in flight, held by the hook
		} else {
			queued(t, b, i) // one at a time, so the round trip's order is known
		}
	}
	close(hook.gate)
	wg.Wait()

	require.Equal(t, []int{1, len(calls) - 1}, hook.trips(),
		"the first call alone, then all %d others in one round trip", len(calls)-1)
	ids := map[string]bool{}
	for i := 0; i < 9; i++ { // update_ids 2..10
		require.NoError(t, out[i].err, "update %d", calls[i].UpdateID)
		require.False(t, out[i].res.Duplicate)
		require.EqualValues(t, i+2, out[i].res.Depth, "update %d", calls[i].UpdateID)
		require.NotEmpty(t, out[i].res.ID)
		ids[out[i].res.ID] = true
	}
	require.Len(t, ids, 9, "each call gets its own entry's id")

	require.NoError(t, out[9].err)
	require.True(t, out[9].res.Duplicate, "a repeat within the round trip is a duplicate")
	require.Equal(t, calls[3].CID, out[9].res.OriginalCID)
	require.NoError(t, out[10].err)
	require.True(t, out[10].res.Duplicate)
	require.Equal(t, old.CID, out[10].res.OriginalCID)
	require.ErrorIs(t, out[11].err, ErrBacklogFull)
	require.EqualValues(t, 10, out[11].res.Depth)

	require.EqualValues(t, 10, c.XLen(ctx, ks.Shard(0).Stream()).Val())
	require.Zero(t, c.Exists(ctx, ks.Shard(0).Seen(11)).Val(), "the refused update is not remembered")
	for _, e := range calls[:9] {
		require.Equal(t, e.CID, c.Get(ctx, ks.Shard(0).Seen(e.UpdateID)).Val(), "marker of %d", e.UpdateID)
	}
	msgs, err := c.XRange(ctx, ks.Shard(0).Stream(), "-", "+").Result()
	require.NoError(t, err)
	for i, m := range msgs[1:] {
		got, err := decodeFields(0, mapOf(m.Values))
		require.NoError(t, err)
		require.Equal(t, calls[i], got, "entries in the order the calls came")
		require.Equal(t, out[i].res.ID, m.ID)
	}
}

// TestBatcherSendsAnIdleCallAtOnce: a call that finds the shard idle is
// sent alone, at once: the batcher has no timer to wait for company.
func TestBatcherSendsAnIdleCallAtOnce(t *testing.T) {
	hook := &tripHook{}
	b, q, _, _ := newBatcher(t, Options{DedupeWindow: time.Hour}, hook)
	ctx := testCtx(t)
	require.NoError(t, q.c.ScriptLoad(ctx, enqueueLua).Err()) // else the first is two round trips
	const n = 21
	delays := make([]time.Duration, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		res, err := b.Enqueue(ctx, env(int64(i+1), 1))
		require.NoError(t, err)
		require.EqualValues(t, i+1, res.Depth)
		hook.mu.Lock()
		delays[i] = hook.started[i].Sub(start)
		hook.mu.Unlock()
	}
	trips := hook.trips()
	require.Len(t, trips, n, "one round trip per call")
	for _, s := range trips {
		require.Equal(t, 1, s)
	}
	// how long the hand-over to the round trip takes is measured by
	// BenchmarkEnqueue, not here: a timed assertion flakes on a busy machine
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("median delay from the call to its round trip: %s", delays[n/2])
}

// TestBatcherDropsACallWhoseContextEnded: a call given up while it waited
// for its round trip appends nothing and is answered unconfirmed; the
// others of the round trip are not affected.
func TestBatcherDropsACallWhoseContextEnded(t *testing.T) {
	hook := &tripHook{gate: make(chan struct{}), entered: make(chan struct{})}
	b, q, c, ks := newBatcher(t, Options{DedupeWindow: time.Hour}, hook)
	ctx := testCtx(t)
	require.NoError(t, q.c.ScriptLoad(ctx, enqueueLua).Err())
	hook.arm()
	first := make(chan outcome, 1)
	go func() { r, err := b.Enqueue(ctx, env(1, 1)); first <- outcome{r, err} }()
	<-hook.entered
	gone, cancel := context.WithCancel(ctx)
	dropped := make(chan outcome, 1)
	go func() { r, err := b.Enqueue(gone, env(2, 1)); dropped <- outcome{r, err} }()
	queued(t, b, 1)
	kept := make(chan outcome, 1)
	go func() { r, err := b.Enqueue(ctx, env(3, 1)); kept <- outcome{r, err} }()
	queued(t, b, 2)
	cancel()
	d := <-dropped
	require.ErrorIs(t, d.err, ErrUnavailable)
	require.ErrorIs(t, d.err, context.Canceled)
	close(hook.gate)
	require.NoError(t, (<-first).err)
	k := <-kept
	require.NoError(t, k.err)
	require.EqualValues(t, 2, k.res.Depth)
	require.Equal(t, []int{1, 1}, hook.trips(), "the given-up call was not sent")
	require.Zero(t, c.Exists(ctx, ks.Shard(0).Seen(2)).Val())
	require.EqualValues(t, 2, c.XLen(ctx, ks.Shard(0).Stream()).Val())
}

// TestBatcherReloadsAFlushedScript: after SCRIPT FLUSH (a restarted or
// failed-over Redis) the round trip is sent again with the script's body.
func TestBatcherReloadsAFlushedScript(t *testing.T) {
	hook := &tripHook{}
	b, _, c, _ := newBatcher(t, Options{DedupeWindow: time.Hour}, hook)
	ctx := testCtx(t)
	_, err := b.Enqueue(ctx, env(1, 1))
	require.NoError(t, err)
	require.NoError(t, c.ScriptFlush(ctx).Err())
	res, err := b.Enqueue(ctx, env(2, 1))
	require.NoError(t, err)
	require.EqualValues(t, 2, res.Depth)
}

func TestBatcherClosed(t *testing.T) {
	b, _, c, ks := newBatcher(t, Options{DedupeWindow: time.Hour}, &tripHook{})
	ctx := testCtx(t)
	_, err := b.Enqueue(ctx, env(1, 1))
	require.NoError(t, err)
	b.Close()
	_, err = b.Enqueue(ctx, env(2, 1))
	require.ErrorIs(t, err, ErrBatcherClosed)
	require.ErrorIs(t, err, ErrUnavailable)
	require.EqualValues(t, 1, c.XLen(ctx, ks.Shard(0).Stream()).Val())
	b.Close() // idempotent

	never := NewBatcher(New(c, ks, Options{}), BatchOptions{})
	never.Close() // never started: nothing to stop
}

func TestBatcherRefusesAShardOutOfRange(t *testing.T) {
	b, _, _, _ := newBatcher(t, Options{Shards: 2}, &tripHook{})
	e := env(1, 1)
	e.Shard = 2
	_, err := b.Enqueue(testCtx(t), e)
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "out of range"), "%v", err)
}

// TestBatcherWaitsForReplicas: with REDIS_WAIT_REPLICAS a round trip ends
// with one WAIT on the master's connection; each call is confirmed by it,
// or refused with ErrNotReplicated (the master appended) without a replica.
func TestBatcherWaitsForReplicas(t *testing.T) {
	master, replica := redistest.NewServer(t, false), redistest.NewServer(t, false)
	replicate(t, master, replica)
	ctx := testCtx(t)
	ks := keys.New("bwait")
	// a confirmation gets 5 s (a loaded machine can hold the replica's
	// answer past a few hundred ms), a shortfall 300 ms: the same appends
	// through two batchers
	batcher := func(within time.Duration) *Batcher {
		b := NewBatcher(New(master.Client(), ks, Options{Shards: 1, DedupeWindow: time.Minute, WaitReplicas: 1,
			WaitTimeout: within}), BatchOptions{})
		t.Cleanup(b.Close)
		return b
	}
	confirmed, short := batcher(5*time.Second), batcher(300*time.Millisecond)

	run := func(b *Batcher, from int64, n int) []outcome {
		out := make([]outcome, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := b.Enqueue(ctx, env(from+int64(i), 10))
				out[i] = outcome{r, err}
			}()
		}
		wg.Wait()
		return out
	}
	for _, o := range run(confirmed, 1, 8) {
		require.NoError(t, o.err)
		require.NotEmpty(t, o.res.ID)
	}
	n, err := replica.Client().XLen(ctx, ks.Shard(0).Stream()).Result()
	require.NoError(t, err)
	require.EqualValues(t, 8, n, "appends confirmed with WAIT 1 are on the replica")

	replica.Kill()
	for _, o := range run(short, 101, 4) {
		require.True(t, errors.Is(o.err, ErrNotReplicated), "%v", o.err)
		require.False(t, errors.Is(o.err, ErrUnavailable), "%v", o.err)
		require.NotEmpty(t, o.res.ID, "the entry is on the master's stream")
	}
}

// BenchmarkEnqueue compares one round trip per append (direct) with group
// commit (batched), 32 appends in flight, on the real server.
func BenchmarkEnqueue(b *testing.B) {
	for _, mode := range []string{"direct", "batched-1", "batched-2", "batched-4"} {
		b.Run(mode, func(b *testing.B) {
			c, ns := redistest.Client(b)
			q := New(c, keys.New(ns), Options{DedupeWindow: time.Minute, MaxBacklog: 0})
			inFlight := 1
			_, _ = fmt.Sscanf(mode, "batched-%d", &inFlight)
			bt := NewBatcher(q, BatchOptions{InFlight: inFlight})
			defer bt.Close()
			var uid atomic.Int64
			var trips, appends atomic.Int64
			bt.opts.Observe = func(_, size int) { trips.Add(1); appends.Add(int64(size)) }
			ctx := context.Background()
			b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0))) // 32 in flight
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e := env(uid.Add(1), 1)
					var err error
					if mode == "direct" {
						_, err = q.Enqueue(ctx, e)
					} else {
						_, err = bt.Enqueue(ctx, e)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			if t := trips.Load(); t > 0 {
				b.ReportMetric(float64(appends.Load())/float64(t), "appends/trip")
			}
		})
	}
}

// TestBatcherManyConcurrentCalls: with the default two round trips in
// flight per shard, 64 concurrent calls are each appended once, with a
// marker, and answered with their own entry.
func TestBatcherManyConcurrentCalls(t *testing.T) {
	q, c, ks := newQueue(t, Options{DedupeWindow: time.Hour})
	b := NewBatcher(q, BatchOptions{})
	t.Cleanup(b.Close)
	ctx := testCtx(t)
	const n = 64
	ids := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := b.Enqueue(ctx, env(int64(i+1), int64(i)))
			if err == nil {
				ids[i] = res.ID
			}
		}()
	}
	close(start)
	wg.Wait()
	seen := map[string]bool{}
	for i, id := range ids {
		require.NotEmpty(t, id, "call %d", i)
		seen[id] = true
		require.EqualValues(t, 1, c.Exists(ctx, ks.Shard(0).Seen(int64(i+1))).Val())
	}
	require.Len(t, seen, n)
	require.EqualValues(t, n, c.XLen(ctx, ks.Shard(0).Stream()).Val())
}
