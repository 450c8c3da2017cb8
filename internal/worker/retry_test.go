package worker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/update"
)

func TestPanickingHandlerIsDeadLetteredAfterMaxDeliveries(t *testing.T) {
	rec := &recorder{behaviour: func(ctx context.Context, u *update.Update, n int) error {
		if u.UpdateID == 1 {
			panic("poison update")
		}
		return nil
	}}
	h := newRedisHarness(t, 1, rec, func(c *Config) {
		c.MaxDeliveries = 4
		c.RetryBackoff = 20 * time.Millisecond
		c.RetryBackoffMax = 40 * time.Millisecond
	})
	h.enqueue(1, 50)
	h.enqueue(2, 50)
	h.start(0, 1)
	h.eventually("the chat moved on", func() bool { return h.log.count("DISPATCH_OK", 2) == 1 && h.drained(0) })

	require.Equal(t, 4, h.log.count("DISPATCH_START", 1), "exactly MAX_DELIVERIES deliveries")
	fails := h.log.events("DISPATCH_FAIL")
	require.Len(t, fails, 4)
	for i, f := range fails {
		require.Equal(t, "HANDLER_PANIC", f["error_type"])
		require.Contains(t, f["error_text"], "poison update")
		require.EqualValues(t, i+1, num(f["delivery"]))
	}
	picks := h.log.events("QUEUE_PICK")
	for i := 0; i < 4; i++ {
		require.EqualValues(t, i+1, num(picks[i]["delivery"]))
	}
	starts := h.log.events("DISPATCH_START")
	var gaps []time.Duration
	for i := 1; i < 4; i++ {
		gaps = append(gaps, tsOf(t, starts[i]).Sub(tsOf(t, starts[i-1])))
	}
	require.GreaterOrEqual(t, gaps[0], 20*time.Millisecond, "backoff after delivery 1")
	require.GreaterOrEqual(t, gaps[1], 40*time.Millisecond, "doubled after delivery 2")
	require.GreaterOrEqual(t, gaps[2], 40*time.Millisecond, "capped at RetryBackoffMax")

	dead := h.log.events("DEAD_LETTERED")
	require.Len(t, dead, 1)
	require.EqualValues(t, 1, num(dead[0]["update_id"]))
	require.Equal(t, "MAX_DELIVERIES", dead[0]["reason_code"])
	require.EqualValues(t, 4, num(dead[0]["delivery"]))

	// the chat's next update runs only after the dead letter
	all := h.log.events("DEAD_LETTERED", "DISPATCH_START")
	require.Equal(t, "DEAD_LETTERED", all[len(all)-2]["name"])
	require.EqualValues(t, 2, num(all[len(all)-1]["update_id"]))

	list, err := h.q.DLQList(context.Background(), 0, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.EqualValues(t, 1, list[0].Envelope.UpdateID)
	require.Equal(t, "MAX_DELIVERIES", list[0].Reason)
	require.Equal(t, "HANDLER_PANIC", list[0].ErrorType)
	require.EqualValues(t, 4, list[0].Deliveries)
	require.JSONEq(t, string(payload(1, 50)), string(list[0].Envelope.Payload))
	require.EqualValues(t, 1, value(h.m.DeadLetters))
	require.EqualValues(t, 4, value(h.m.DispatchFailures.WithLabelValues("HANDLER_PANIC")))
}

func tsOf(t *testing.T, ev map[string]any) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, ev["ts"].(string))
	require.NoError(t, err)
	return ts
}

type flaky struct{ msg string }

func (e *flaky) Error() string { return e.msg }

func TestFailedDeliveryIsRetriedUntilItSucceeds(t *testing.T) {
	rec := &recorder{behaviour: func(ctx context.Context, u *update.Update, n int) error {
		if n < 3 {
			return &flaky{"telegram said 502"}
		}
		return nil
	}}
	h := newRedisHarness(t, 1, rec, func(c *Config) { c.MaxDeliveries = 5 })
	h.enqueue(9, 1)
	h.start(0, 1)
	h.eventually("done", func() bool { return h.log.count("DISPATCH_OK", 9) == 1 && h.drained(0) })
	fails := h.log.events("DISPATCH_FAIL")
	require.Len(t, fails, 2)
	// a plain handler error: HANDLER_ERROR of the closed set, not its Go
	// type name (which was *worker.flaky)
	require.Equal(t, "HANDLER_ERROR", fails[0]["error_type"])
	require.Equal(t, "telegram said 502", fails[0]["error_text"])
	require.Zero(t, h.log.count("DEAD_LETTERED", 0))
	picks := h.log.events("QUEUE_PICK")
	require.Len(t, picks, 3)
	require.EqualValues(t, 3, num(picks[2]["delivery"]), "the delivery count comes from Redis")
}

func TestTimeoutWaitsForTheHandlerBeforeTheChatMovesOn(t *testing.T) {
	returned := make(chan time.Time, 1)
	rec := &recorder{behaviour: func(ctx context.Context, u *update.Update, n int) error {
		if u.UpdateID == 1 && n == 1 {
			time.Sleep(300 * time.Millisecond) // ignores its context
			returned <- time.Now()
			return nil
		}
		return nil
	}}
	h := newRedisHarness(t, 1, rec, func(c *Config) {
		c.HandlerTimeout = 50 * time.Millisecond
		c.AbandonAfter = 10 * time.Second
	})
	h.enqueue(1, 3)
	h.enqueue(2, 3)
	h.start(0, 1)
	h.eventually("done", func() bool { return h.log.count("DISPATCH_OK", 2) == 1 && h.drained(0) })

	fail := h.log.events("DISPATCH_FAIL")
	require.Len(t, fail, 1)
	require.Equal(t, "HANDLER_TIMEOUT", fail[0]["error_type"])
	require.Less(t, num(fail[0]["duration_ms"]), int64(250), "the timeout is reported at the deadline")
	back := <-returned
	require.True(t, tsOf(t, fail[0]).Before(back), "reported before the handler returned")

	starts := h.log.events("DISPATCH_START")
	require.Len(t, starts, 3)
	require.EqualValues(t, 1, num(starts[1]["update_id"]), "the retry comes first")
	require.False(t, tsOf(t, starts[1]).Before(back.Truncate(time.Millisecond)), "the retry waited for the late handler")
	require.EqualValues(t, 2, num(starts[2]["update_id"]))
	require.Zero(t, h.pool.Abandoned())
	require.EqualValues(t, 1, value(h.m.DispatchFailures.WithLabelValues("HANDLER_TIMEOUT")))
}

func TestTimeoutAbandonsAHandlerThatNeverReturns(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	rec := &recorder{behaviour: func(ctx context.Context, u *update.Update, n int) error {
		if u.UpdateID == 1 && n == 1 {
			<-release // ignores its context
		}
		return nil
	}}
	h := newRedisHarness(t, 1, rec, func(c *Config) {
		c.HandlerTimeout = 30 * time.Millisecond
		c.AbandonAfter = 30 * time.Millisecond
	})
	h.enqueue(1, 3)
	h.enqueue(2, 3)
	h.start(0, 1)
	h.eventually("done", func() bool { return h.log.count("DISPATCH_OK", 2) == 1 && h.drained(0) })
	require.EqualValues(t, 1, h.pool.Abandoned())
	require.Equal(t, 1, h.log.count("DISPATCH_OK", 1), "the retry succeeded")
	once.Do(func() { close(release) })
}

func TestAHandlerHonouringItsDeadlineTimesOut(t *testing.T) {
	rec := &recorder{behaviour: func(ctx context.Context, u *update.Update, n int) error {
		if n == 1 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}}
	h := newRedisHarness(t, 1, rec, func(c *Config) { c.HandlerTimeout = 30 * time.Millisecond })
	h.enqueue(1, 3)
	h.start(0, 1)
	h.eventually("done", func() bool { return h.log.count("DISPATCH_OK", 1) == 1 && h.drained(0) })
	fail := h.log.events("DISPATCH_FAIL")
	require.Len(t, fail, 1)
	require.Equal(t, "HANDLER_TIMEOUT", fail[0]["error_type"])
}

func TestMalformedEntriesAreDeadLettered(t *testing.T) {
	rec := &recorder{}
	h := newRedisHarness(t, 1, rec, nil)
	ctx := context.Background()
	stream := h.ks.Shard(0).Stream()
	require.NoError(t, h.c.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"uid", "x", "chat", "1"}}).Err())
	require.NoError(t, h.c.XAdd(ctx, &redis.XAddArgs{Stream: stream,
		Values: []any{"cid", "0000abcd", "uid", "8", "type", "message", "chat", "1", "user", "1", "payload", "not json"}}).Err())
	h.enqueue(9, 1)
	h.start(0, 1)
	h.eventually("done", func() bool { return h.log.count("DISPATCH_OK", 9) == 1 && h.drained(0) })
	dead := h.log.events("DEAD_LETTERED")
	require.Len(t, dead, 2)
	for _, d := range dead {
		require.Equal(t, "BAD_PAYLOAD", d["reason_code"])
	}
	require.Equal(t, 1, rec.callCount(), "only the good one reached the handler")
	list, err := h.q.DLQList(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, list, 2)
}

func TestOverDeliveredEntryIsDeadLetteredWithoutDispatch(t *testing.T) {
	rec := &recorder{}
	h := newRedisHarness(t, 1, rec, func(c *Config) { c.MaxDeliveries = 3 })
	ctx := context.Background()
	id := h.enqueue(1, 4)
	// Three instances took it and died before any ack (say it crashes them).
	h.lease(0, 1)
	_, _, err := h.q.ReadNew(ctx, 0, 1, "dead-1", 1)
	require.NoError(t, err)
	for _, c := range []string{"dead-2", "dead-3"} {
		_, ok, err := h.q.Redeliver(ctx, 0, 1, c, id)
		require.NoError(t, err)
		require.True(t, ok)
	}
	h.enqueue(2, 4)
	h.start(0, 2)
	h.eventually("done", func() bool { return h.log.count("DISPATCH_OK", 2) == 1 && h.drained(0) })
	require.Zero(t, h.log.count("DISPATCH_START", 1), "not dispatched a fourth time")
	dead := h.log.events("DEAD_LETTERED")
	require.Len(t, dead, 1)
	require.Equal(t, "MAX_DELIVERIES", dead[0]["reason_code"])
	require.EqualValues(t, 3, num(dead[0]["delivery"]))
	require.Contains(t, dead[0]["reason_text"], "without an ack")
	require.Equal(t, 1, rec.callCount())
}

type typedFailure struct{}

func (typedFailure) Error() string     { return "wrapped panic" }
func (typedFailure) ErrorType() string { return "HANDLER_PANIC" }

func TestErrorTyperNamesTheErrorType(t *testing.T) {
	rec := &recorder{behaviour: func(ctx context.Context, u *update.Update, n int) error {
		if n < 2 {
			return fmt.Errorf("router: %w", typedFailure{})
		}
		return nil
	}}
	h := newRedisHarness(t, 1, rec, func(c *Config) { c.MaxDeliveries = 5 })
	h.enqueue(9, 1)
	h.start(0, 1)
	h.eventually("done", func() bool { return h.log.count("DISPATCH_OK", 9) == 1 && h.drained(0) })
	fails := h.log.events("DISPATCH_FAIL")
	require.Len(t, fails, 1)
	require.Equal(t, "HANDLER_PANIC", fails[0]["error_type"])
}
