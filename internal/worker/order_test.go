package worker

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

func TestEveryUpdateDispatchedOnceInChatOrder(t *testing.T) {
	rec := &recorder{behaviour: func(ctx context.Context, u *update.Update, n int) error {
		time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond) // a handler's work
		return nil
	}}
	h := newRedisHarness(t, 1, rec, func(c *Config) { c.Workers = 8 })
	const chats, perChat = 20, 25
	h.start(0, 1)
	for i := int64(0); i < chats*perChat; i++ {
		h.enqueue(1000+i, 1+i%chats) // interleaved: chat 1, 2, ... 20, 1, 2, ...
	}
	h.eventually("every update dispatched and acked", func() bool {
		return rec.callCount() >= chats*perChat && h.drained(0)
	})

	calls, perChatCalls, maxChat, maxAll := rec.snapshot()
	require.Len(t, calls, chats*perChat, "each update dispatched exactly once")
	for chat, ids := range perChatCalls {
		require.True(t, slices.IsSorted(ids), "chat %d out of order: %v", chat, ids)
		require.Len(t, ids, perChat)
	}
	require.Equal(t, 1, maxChat, "one chat's updates one at a time")
	require.Greater(t, maxAll, 1, "different chats in parallel")
	require.LessOrEqual(t, maxAll, 8, "never more than WORKERS at once")
	require.Equal(t, chats*perChat, h.log.count("DISPATCH_OK", 0))
	require.Zero(t, h.pool.InHand())
}

func TestEventsOfOneDispatch(t *testing.T) {
	got := make(chan context.Context, 1)
	h := newRedisHarness(t, 1, HandlerFunc(func(ctx context.Context, u *update.Update) error {
		got <- ctx
		return nil
	}), nil)
	h.start(0, 7)
	h.enqueue(555, 42)
	var ctx context.Context
	select {
	case ctx = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("not dispatched")
	}
	u, ok := telemetry.UpdateFrom(ctx)
	require.True(t, ok)
	require.Equal(t, telemetry.Update{CID: "0000022b", UpdateID: 555, Type: "message", UserID: 42, ChatID: 42, Shard: 0}, u)
	f, ok := lease.FenceFrom(ctx)
	require.True(t, ok)
	require.Equal(t, h.ks.Shard(0), f.Shard)
	require.EqualValues(t, 7, f.Token)
	dl, ok := ctx.Deadline()
	require.True(t, ok)
	require.WithinDuration(t, time.Now().Add(h.cfg.HandlerTimeout), dl, time.Second)

	h.eventually("acked", func() bool { return h.drained(0) })
	evs := h.log.events("QUEUE_PICK", "DISPATCH_START", "DISPATCH_OK")
	require.Len(t, evs, 3)
	for i, name := range []string{"QUEUE_PICK", "DISPATCH_START", "DISPATCH_OK"} {
		require.Equal(t, name, evs[i]["name"])
		require.Equal(t, "0000022b", evs[i]["cid"])
		require.EqualValues(t, 555, num(evs[i]["update_id"]))
		require.EqualValues(t, 42, num(evs[i]["chat_id"]))
		require.EqualValues(t, 0, num(evs[i]["shard"]))
	}
	pick := evs[0]
	require.Regexp(t, `^w\d+$`, pick["worker_id"])
	require.EqualValues(t, 1, num(pick["delivery"]))
	require.Contains(t, pick, "wait_ms")
	require.GreaterOrEqual(t, num(pick["wait_ms"]), int64(0))
	require.EqualValues(t, 7, num(evs[2]["token"]))
	require.Contains(t, evs[2], "duration_ms")
}

func TestNeverHoldsMoreThanFreeWorkers(t *testing.T) {
	gate := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(gate) }) })
	rec := &recorder{behaviour: func(ctx context.Context, u *update.Update, n int) error {
		<-gate
		return nil
	}}
	h := newRedisHarness(t, 1, rec, func(c *Config) { c.Workers = 3 })
	for i := int64(1); i <= 10; i++ {
		h.enqueue(i, i) // ten chats
	}
	h.start(0, 1)
	h.eventually("three in hand", func() bool { return rec.callCount() == 3 })
	require.EqualValues(t, 3, h.pending(0), "only as many entries taken as there are free workers")
	require.Equal(t, 3, h.pool.InHand())
	once.Do(func() { close(gate) })
	h.eventually("all done", func() bool { return rec.callCount() == 10 && h.drained(0) })
}

func TestQueuedBehindItsChatCountsAsInHand(t *testing.T) {
	gate := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(gate) }) })
	rec := &recorder{behaviour: func(ctx context.Context, u *update.Update, n int) error {
		<-gate
		return nil
	}}
	h := newRedisHarness(t, 1, rec, func(c *Config) { c.Workers = 2 })
	for i := int64(1); i <= 5; i++ {
		h.enqueue(i, 9) // one chat
	}
	h.start(0, 1)
	h.eventually("two taken, one running", func() bool { return h.pending(0) == 2 && rec.callCount() == 1 })
	require.Equal(t, 1, rec.callCount(), "the second waits behind the first")
	require.Equal(t, 2, h.pool.InHand())
	once.Do(func() { close(gate) })
	h.eventually("all done", func() bool { return rec.callCount() == 5 && h.drained(0) })
	calls, _, _, _ := rec.snapshot()
	require.Equal(t, []int64{1, 2, 3, 4, 5}, calls)
}

func TestShardsShareTheWorkers(t *testing.T) {
	rec := &recorder{}
	h := newRedisHarness(t, 3, rec, func(c *Config) { c.Workers = 2 })
	for s := 0; s < 3; s++ {
		h.start(s, int64(10+s))
	}
	for i := int64(1); i <= 60; i++ {
		h.enqueue(i, i%13+1)
	}
	defer func() {
		if t.Failed() {
			for s := 0; s < 3; s++ {
				st, err := h.q.Stats(context.Background(), s)
				t.Logf("shard %d: %+v %v", s, st, err)
			}
			t.Logf("calls %d inhand %d", rec.callCount(), h.pool.InHand())
			for _, ev := range h.log.events() {
				if ev["name"] != "QUEUE_PICK" && ev["name"] != "DISPATCH_START" && ev["name"] != "DISPATCH_OK" {
					t.Log(ev)
				}
			}
		}
	}()
	h.eventually("all shards drained", func() bool {
		return rec.callCount() == 60 && h.drained(0) && h.drained(1) && h.drained(2)
	})
	_, perChat, maxChat, maxAll := rec.snapshot()
	require.Equal(t, 1, maxChat)
	require.LessOrEqual(t, maxAll, 2)
	for chat, ids := range perChat {
		require.True(t, slices.IsSorted(ids), "chat %d: %v", chat, ids)
	}
}
