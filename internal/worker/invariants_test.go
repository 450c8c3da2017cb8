package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// The delivery invariants of issue 13 at the worker's level (real Redis).

// lostReply is a go-redis hook that, once armed, lets the next read of new
// entries (read.lua) run on Redis but fails it on the client, as a reply
// slower than the read timeout or a reset connection does.
type lostReply struct {
	armed atomic.Bool
	fired chan struct{}
}

func (l *lostReply) DialHook(next redis.DialHook) redis.DialHook { return next }
func (l *lostReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (l *lostReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		args := cmd.Args()
		// EVALSHA/EVAL sha 2 lease stream token group consumer count: read.lua
		if err != nil || len(args) != 9 || args[6] != keys.Group || !l.armed.Load() {
			return err
		}
		res, ok := cmd.(*redis.Cmd).Val().([]any)
		if !ok || len(res) != 2 {
			return err
		}
		if list, _ := res[1].([]any); len(list) == 0 || !l.armed.CompareAndSwap(true, false) {
			return err
		}
		lost := errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout")
		cmd.SetErr(lost)
		close(l.fired)
		return lost
	}
}

// TestALostReadReplyIsTakenBackBeforeLaterUpdates: a read that ran on Redis
// but whose reply was lost leaves its entries pending for this consumer;
// they are taken back at once, and the chat's later update waits for them.
func TestALostReadReplyIsTakenBackBeforeLaterUpdates(t *testing.T) {
	opt, err := redis.ParseURL(redistest.URL(t))
	require.NoError(t, err)
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	hook := &lostReply{fired: make(chan struct{})}
	c.AddHook(hook)
	_, ns := redistest.Client(t)
	rec := &recorder{}
	h := newHarness(t, c, ns, 1, rec, func(c *Config) { c.ReclaimIdle = time.Minute })
	h.enqueue(1, 7)
	hook.armed.Store(true)
	h.start(0, 1)
	select {
	case <-hook.fired:
	case <-time.After(10 * time.Second):
		t.Fatal("no read reply was lost")
	}
	h.enqueue(2, 7)
	h.eventually("both dispatched", func() bool { return rec.callCount() == 2 && h.drained(0) })
	calls, _, _, _ := rec.snapshot()
	require.Equal(t, []int64{1, 2}, calls, "the chat's later update waited for the one whose reply was lost")
}

// TestALostReadThatRanLateIsFoundByTheSweep: an entry moved to this
// consumer by a read it no longer waits for (Redis ran it late, after the
// client gave up) is found by the periodic sweep of its own idle entries.
func TestALostReadThatRanLateIsFoundByTheSweep(t *testing.T) {
	b := newBlocker(t)
	h := newRedisHarness(t, 1, b, func(c *Config) { c.Workers, c.ReclaimIdle = 1, 200*time.Millisecond })
	h.enqueue(1, 7)
	h.start(0, 1)
	b.waitStart(t) // the only worker is busy: the reader reads nothing meanwhile
	h.enqueue(2, 8)
	ctx := context.Background()
	require.NoError(t, h.c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: keys.Group, Consumer: "w1",
		Streams: []string{h.ks.Shard(0).Stream(), ">"}}).Err(), "the late read, for this consumer")
	b.open()
	h.eventually("the orphan dispatched", func() bool { return h.log.count("DISPATCH_OK", 2) == 1 && h.drained(0) })
	picks := 0
	for _, ev := range h.log.events("QUEUE_PICK") {
		if num(ev["update_id"]) == 2 {
			picks++
			require.EqualValues(t, 1, num(ev["delivery"]), "the lost read delivered nothing: still the first delivery")
		}
	}
	require.Equal(t, 1, picks)
}

// TestDrainLeavesTheChatPendingBehindARetry: update 1 of a chat waits for
// its retry, update 2 waits behind it; a drain leaves both pending (before,
// it dispatched update 2 and left 1 to the successor: order inverted).
func TestDrainLeavesTheChatPendingBehindARetry(t *testing.T) {
	rec := &recorder{behaviour: func(ctx context.Context, u *update.Update, n int) error {
		if u.UpdateID == 1 {
			return errors.New("telegram said 502")
		}
		return nil
	}}
	h := newRedisHarness(t, 1, rec, func(c *Config) {
		c.RetryBackoff, c.RetryBackoffMax = time.Minute, time.Minute // the retry would outlive the test
	})
	h.enqueue(1, 7)
	h.enqueue(2, 7)
	h.enqueue(3, 8) // another chat: unaffected
	done, _ := h.start(0, 1)
	h.eventually("1 failed, 3 done", func() bool {
		return h.log.count("DISPATCH_FAIL", 1) == 1 && h.log.count("DISPATCH_OK", 3) == 1 && h.pool.InHand() == 2
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.pool.Drain(ctx))
	waitDone(t, done, "RunShard did not return")
	require.Zero(t, h.log.count("DISPATCH_START", 2), "update 2 does not overtake update 1")
	require.EqualValues(t, 2, h.pending(0), "both stay pending for the successor, in order")
}

// TestARunawayHandlerIsAbandonedWithinTheGraceOfTheLeaseEnd: when the lease
// ends, RunShard waits for a handler that ignores its context at most
// LeaseEndGrace, then abandons it with DISPATCH_ABANDONED
// (HANDLER_ABANDONED); until then the term does not end.
func TestARunawayHandlerIsAbandonedWithinTheGraceOfTheLeaseEnd(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	started := make(chan struct{}, 1)
	h := newRedisHarness(t, 1, HandlerFunc(func(ctx context.Context, u *update.Update) error {
		started <- struct{}{}
		<-release // ignores its context
		return nil
	}), func(c *Config) {
		c.HandlerTimeout, c.AbandonAfter, c.LeaseEndGrace = time.Minute, time.Minute, 300*time.Millisecond
	})
	h.enqueue(1, 7)
	done, stop := h.start(0, 1)
	<-started
	go stop()
	ended := time.Now()
	select {
	case <-done:
		t.Fatal("the term ended with its handler running")
	case <-time.After(150 * time.Millisecond): // within the grace
	}
	waitDone(t, done, "RunShard did not return after the grace")
	require.Less(t, time.Since(ended), 5*time.Second)
	ab := h.log.events("DISPATCH_ABANDONED")
	require.Len(t, ab, 1)
	require.Equal(t, "HANDLER_ABANDONED", ab[0]["reason_code"])
	require.Contains(t, ab[0]["reason_text"], "past the lease's end")
	require.EqualValues(t, 1, h.pool.Abandoned())
	require.EqualValues(t, 1, h.pending(0), "left pending for the successor")
}

// throttled is a handler error that asks for a pause, as a 429 does.
type throttled time.Duration

func (t throttled) Error() string             { return "telegram: sendMessage: 429 Too Many Requests" }
func (t throttled) RetryDelay() time.Duration { return time.Duration(t) }

// TestAFloodWaitDelaysTheNextDeliveryAndIsNotDeadLettered: a delivery
// refused with a retry delay is delivered again no earlier than the delay,
// and an update refused only so is not dead-lettered before MaxDeliveries
// times the delay has passed.
func TestAFloodWaitDelaysTheNextDeliveryAndIsNotDeadLettered(t *testing.T) {
	const wait = 300 * time.Millisecond
	rec := &recorder{behaviour: func(ctx context.Context, u *update.Update, n int) error {
		if u.UpdateID == 2 && n == 3 {
			return nil // the flood wait is over
		}
		return throttled(wait)
	}}
	h := newRedisHarness(t, 1, rec, func(c *Config) { c.MaxDeliveries = 3 })
	h.enqueue(1, 7)
	h.enqueue(2, 8)
	h.start(0, 1)
	h.eventually("1 dead-lettered, 2 done", func() bool {
		return h.log.count("DEAD_LETTERED", 1) == 1 && h.log.count("DISPATCH_OK", 2) == 1
	})
	var starts []time.Time
	for _, ev := range h.log.events("DISPATCH_START") {
		if num(ev["update_id"]) == 1 {
			starts = append(starts, tsOf(t, ev))
		}
	}
	require.GreaterOrEqual(t, len(starts), 3)
	for i := 1; i < len(starts); i++ {
		require.GreaterOrEqual(t, starts[i].Sub(starts[i-1]), wait-5*time.Millisecond, "delivery %d waited for retry_after", i+1)
	}
	dead := tsOf(t, h.log.events("DEAD_LETTERED")[0])
	require.GreaterOrEqual(t, dead.Sub(starts[0]), 3*wait-5*time.Millisecond, "not dead-lettered before MAX_DELIVERIES × the wait")
}

// TestTheTakerRemovesConsumersOfGoneInstances: the instance that takes a
// shard removes the consumers with no pending entry that belong to no live
// instance, also one whose pending entries it has just claimed, and keeps
// the live ones.
func TestTheTakerRemovesConsumersOfGoneInstances(t *testing.T) {
	rec := &recorder{}
	h := newRedisHarness(t, 1, rec, func(c *Config) {
		c.Live = func(_ context.Context, ids []string) (map[string]bool, error) {
			return map[string]bool{"w1": true, "alive": true}, nil
		}
	})
	ctx := context.Background()
	stream := h.ks.Shard(0).Stream()
	h.enqueue(1, 7)
	require.NoError(t, h.c.XGroupCreateMkStream(ctx, stream, keys.Group, "0").Err())
	for _, name := range []string{"gone-1", "gone-2", "gone-3", "alive"} {
		require.NoError(t, h.c.XGroupCreateConsumer(ctx, stream, keys.Group, name).Err())
	}
	// a crashed instance's read: its entry is pending until the taker claims it
	require.NoError(t, h.c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: keys.Group, Consumer: "gone-busy", Streams: []string{stream, ">"}}).Err())
	h.start(0, 1)
	h.eventually("claimed and dispatched", func() bool { return rec.callCount() == 1 && h.drained(0) })
	h.eventually("gone consumers removed", func() bool {
		cs, err := h.c.XInfoConsumers(ctx, stream, keys.Group).Result()
		if err != nil {
			return false
		}
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
		}
		return len(names) == 2 && (names[0] == "alive" && names[1] == "w1" || names[0] == "w1" && names[1] == "alive")
	})
}
