package worker

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// blocker is a handler that holds every call until released.
type blocker struct {
	started chan int64
	release chan struct{}
	once    sync.Once
}

func newBlocker(t *testing.T) *blocker {
	b := &blocker{started: make(chan int64, 100), release: make(chan struct{})}
	t.Cleanup(b.open)
	return b
}

func (b *blocker) open() { b.once.Do(func() { close(b.release) }) }

func (b *blocker) Handle(ctx context.Context, u *update.Update) error {
	b.started <- int64(u.UpdateID)
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *blocker) waitStart(t *testing.T) int64 {
	t.Helper()
	select {
	case id := <-b.started:
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("handler not called")
		return 0
	}
}

func waitDone(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal(what)
	}
}

func TestAStaleAckIsRefusedAndTheEntryStaysPending(t *testing.T) {
	b := newBlocker(t)
	h := newRedisHarness(t, 1, b, nil)
	h.enqueue(1, 1)
	done, _ := h.start(0, 5)
	b.waitStart(t)
	// A successor won the lease meanwhile (this instance has not noticed).
	require.NoError(t, h.c.HSet(context.Background(), h.ks.Shard(0).Lease(), "token", 6, "holder", "other").Err())
	b.open()
	waitDone(t, done, "the run did not stop after a refused ack")

	require.Equal(t, 1, h.log.count("DISPATCH_OK", 1))
	rej := h.log.events("MESSAGE_REJECTED")
	require.Len(t, rej, 1)
	require.Equal(t, "PASSIVE_REJECT", rej[0]["reason_code"])
	require.Equal(t, "Instance not ACTIVE", rej[0]["reason_text"])
	require.EqualValues(t, 1, h.pending(0), "left pending for the ACTIVE instance")
	require.EqualValues(t, 1, value(h.m.PassiveRejects))
}

func TestNotValidRejectsBeforeDispatch(t *testing.T) {
	rec := &recorder{}
	h := newRedisHarness(t, 1, rec, nil)
	h.enqueue(1, 1)
	h.enqueue(2, 2)
	h.lease(0, 3)
	h.leader.set(0, 4) // the manager already knows the lease is gone
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); h.pool.RunShard(ctx, 0, 3) }()
	waitDone(t, done, "RunShard did not return when no longer valid")

	require.Zero(t, rec.callCount())
	require.Zero(t, h.log.count("DISPATCH_START", 0))
	require.GreaterOrEqual(t, h.log.count("MESSAGE_REJECTED", 0), 1)
	for _, ev := range h.log.events("MESSAGE_REJECTED") {
		require.Equal(t, "PASSIVE_REJECT", ev["reason_code"])
	}
	st, err := h.q.Stats(context.Background(), 0)
	require.NoError(t, err)
	require.EqualValues(t, 2, st.Length, "nothing lost")
}

func TestLeaseLossCancelsTheHandlerAndLeavesTheRestPending(t *testing.T) {
	b := newBlocker(t)
	b2 := &recorder{}
	var second atomic.Bool
	h := newRedisHarness(t, 1, HandlerFunc(func(ctx context.Context, u *update.Update) error {
		if second.Load() {
			return b2.Handle(ctx, u)
		}
		return b.Handle(ctx, u)
	}), nil)
	h.enqueue(1, 1)
	h.enqueue(2, 1) // waits behind 1
	done, stop := h.start(0, 5)
	b.waitStart(t)
	h.eventually("both in hand", func() bool { return h.pending(0) == 2 })
	h.leader.set(0, 6)
	stop() // the lease's context ends
	waitDone(t, done, "RunShard did not return")

	fail := h.log.events("DISPATCH_FAIL")
	require.Len(t, fail, 1)
	require.Equal(t, "CANCELLED", fail[0]["error_type"])
	require.Equal(t, 1, h.log.count("MESSAGE_REJECTED", 2), "the one behind it is rejected")
	require.EqualValues(t, 2, h.pending(0), "both stay pending for the successor")
	require.Zero(t, h.log.count("DEAD_LETTERED", 0))

	// The successor (here: this pool in a new term) takes both over, in order.
	second.Store(true)
	h.start(0, 7)
	h.eventually("successor finished", func() bool { return b2.callCount() == 2 && h.drained(0) })
	calls, _, _, _ := b2.snapshot()
	require.Equal(t, []int64{1, 2}, calls)
}

func TestANewTermOfTheSameShardWaitsForTheOldOne(t *testing.T) {
	gate := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(gate) }) })
	started := make(chan int, 2)
	rec := &recorder{behaviour: func(ctx context.Context, u *update.Update, n int) error {
		started <- n
		if n == 1 {
			<-gate // ignores its context: the old term cannot end before it returns
		}
		return nil
	}}
	h := newRedisHarness(t, 1, rec, func(c *Config) {
		c.HandlerTimeout = 10 * time.Second
		c.AbandonAfter = 10 * time.Second
	})
	h.enqueue(1, 1)
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	h.lease(0, 1)
	done1 := make(chan struct{})
	go func() { defer close(done1); h.pool.RunShard(ctx1, 0, 1) }()
	require.Equal(t, 1, <-started)

	done2, _ := h.start(0, 2) // the lease moved to token 2
	cancel1()
	select {
	case <-done1:
		t.Fatal("the old term returned with its handler still running")
	case n := <-started:
		t.Fatalf("the new term dispatched (call %d) while the old one still ran", n)
	case <-done2:
		t.Fatal("the new term returned")
	case <-time.After(50 * time.Millisecond): // a window for a wrong dispatch to show
	}
	once.Do(func() { close(gate) })
	waitDone(t, done1, "old term did not return")
	select {
	case n := <-started:
		require.Equal(t, 2, n, "the new term takes the entry over")
	case <-time.After(10 * time.Second):
		t.Fatal("the new term did not take the entry over")
	}
	h.eventually("done", func() bool { return h.drained(0) })
}
