package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

func TestBacklogFullWithoutALeaderThenDrained(t *testing.T) {
	c, ns := redistest.Client(t)
	rec := &recorder{}
	h := newHarness(t, c, ns, 1, rec, func(cfg *Config) {
		cfg.Queue = queue.New(c, keys.New(ns), queue.Options{MaxBacklog: 100, DedupeWindow: time.Minute})
	})
	ctx := context.Background()
	send := func(uid int64) error {
		_, err := h.q.Enqueue(ctx, queue.Envelope{CID: "0000beef", UpdateID: uid, Type: "message", ChatID: uid % 7,
			UserID: 1, Payload: payload(uid, uid%7)})
		return err
	}
	for i := int64(1); i <= 100; i++ {
		require.NoError(t, send(i))
	}
	require.ErrorIs(t, send(101), queue.ErrBacklogFull, "no ACTIVE instance: refused after MAX_BACKLOG")

	h.start(0, 1)
	h.eventually("drained", func() bool { return rec.callCount() == 100 && h.drained(0) })
	require.NoError(t, send(101), "accepted again once drained")
	h.eventually("the late one too", func() bool { return rec.callCount() == 101 && h.drained(0) })
}

func TestTheSameUpdateThreeTimesIsDispatchedOnce(t *testing.T) {
	rec := &recorder{}
	h := newRedisHarness(t, 1, rec, nil)
	ctx := context.Background()
	e := queue.Envelope{CID: "0000f00d", UpdateID: 77, Type: "message", ChatID: 5, UserID: 5, Payload: payload(77, 5)}
	var dups int
	for i := 0; i < 3; i++ {
		res, err := h.q.Enqueue(ctx, e)
		require.NoError(t, err)
		if res.Duplicate {
			dups++
		}
	}
	require.Equal(t, 2, dups)
	h.enqueue(78, 5)
	h.start(0, 1)
	h.eventually("done", func() bool { return rec.callCount() == 2 && h.drained(0) })
	require.Equal(t, 1, h.log.count("DISPATCH_START", 77))
}
