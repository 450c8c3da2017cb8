package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/update"
)

func TestDrainFinishesWhatIsInHandAndStopsReading(t *testing.T) {
	b := newBlocker(t)
	h := newRedisHarness(t, 1, b, func(c *Config) { c.Workers = 2 })
	h.enqueue(1, 1)
	h.enqueue(2, 1) // in hand behind 1
	h.enqueue(3, 2) // not taken: no free worker
	h.enqueue(4, 3)
	done, _ := h.start(0, 1)
	b.waitStart(t)
	h.eventually("two in hand", func() bool { return h.pending(0) == 2 })

	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		drained <- h.pool.Drain(ctx)
	}()
	// released only once the pool drains: before it, 1's ack would free a
	// worker that reads 3
	h.eventually("the pool drains", h.pool.isDraining)
	b.open()
	select {
	case err := <-drained:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Drain did not return")
	}
	waitDone(t, done, "RunShard did not return after Drain")

	require.Equal(t, 1, h.log.count("DISPATCH_OK", 1))
	require.Equal(t, 1, h.log.count("DISPATCH_OK", 2), "what was in hand is finished")
	st, err := h.q.Stats(context.Background(), 0)
	require.NoError(t, err)
	require.EqualValues(t, 2, st.Length, "3 and 4 stay in the stream")
	require.Zero(t, st.Pending, "and were never taken")

	// After Drain a new term does nothing.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.pool.RunShard(ctx, 0, 1)
	require.Zero(t, h.pool.InHand())
}

func TestDrainTimeoutLeavesUnfinishedWorkPending(t *testing.T) {
	started := make(chan struct{}, 1)
	h := newRedisHarness(t, 1, HandlerFunc(func(ctx context.Context, u *update.Update) error {
		started <- struct{}{}
		<-ctx.Done() // longer than the drain
		return ctx.Err()
	}), func(c *Config) { c.HandlerTimeout = time.Minute })
	h.enqueue(1, 1)
	h.enqueue(2, 1)
	done, _ := h.start(0, 1)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := h.pool.Drain(ctx)
	require.ErrorIs(t, err, ErrDrainIncomplete)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	waitDone(t, done, "RunShard did not return after the hard stop")
	require.EqualValues(t, 2, h.pending(0), "unfinished entries stay pending for the successor")
	require.Zero(t, h.log.count("DISPATCH_OK", 0))
	require.Zero(t, h.log.count("MESSAGE_REJECTED", 0), "a drain is not a rejection")
}

func TestDrainDoesNotStartRetries(t *testing.T) {
	h := newRedisHarness(t, 1, HandlerFunc(func(ctx context.Context, u *update.Update) error {
		return errors.New("down")
	}), func(c *Config) {
		c.RetryBackoff = time.Minute // a retry would outlive the test
		c.RetryBackoffMax = time.Minute
	})
	h.enqueue(1, 1)
	done, _ := h.start(0, 1)
	h.eventually("failed once", func() bool { return h.log.count("DISPATCH_FAIL", 1) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, h.pool.Drain(ctx))
	require.Less(t, time.Since(start), 5*time.Second, "the backoff is cut short")
	waitDone(t, done, "RunShard did not return")
	require.EqualValues(t, 1, h.pending(0))
	require.Equal(t, 1, h.log.count("DISPATCH_START", 1))
}

func TestDrainWithNothingRunning(t *testing.T) {
	h := newRedisHarness(t, 1, &recorder{}, nil)
	require.NoError(t, h.pool.Drain(context.Background()))
	require.NoError(t, h.pool.Drain(context.Background()), "twice is fine")
}
