package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

func TestRedisStoppedAndRestartedWorkersBackOffAndResume(t *testing.T) {
	srv := redistest.NewServer(t, true) // append-only: what was acknowledged survives
	c := srv.Client()
	b := newBlocker(t)
	// the handlers wait until Redis is down, which a loaded machine can take
	// seconds to reach (a graceful stop with AOF): more than the harness's
	// 2 s deadline, which would turn them into timeouts this test is not about
	h := newHarness(t, c, "restart", 1, b, func(cfg *Config) { cfg.Workers, cfg.HandlerTimeout = 4, time.Minute })
	for i := int64(1); i <= 3; i++ {
		h.enqueue(i, i)
	}
	done, _ := h.start(0, 1)
	for i := 0; i < 3; i++ {
		b.waitStart(t)
	}

	srv.Stop()
	// The ingest side now gets ErrUnavailable (the webhook answers 503).
	_, err := h.q.Enqueue(context.Background(), queue.Envelope{UpdateID: 99, Type: "message", ChatID: 1, Payload: payload(99, 1)})
	require.ErrorIs(t, err, queue.ErrUnavailable)
	b.open() // the handlers finish while Redis is down: their acks must wait
	h.eventually("acks failing while Redis is down", func() bool {
		return h.log.count("REDIS_ERROR", 0) >= 1 && h.log.count("DISPATCH_OK", 0) == 3
	})
	select {
	case <-done:
		t.Fatal("RunShard gave up while Redis was down")
	default:
	}

	srv.Start()
	h.eventually("acks and reads resume", func() bool { return h.drained(0) })
	for i := int64(4); i <= 8; i++ {
		h.enqueue(i, i)
	}
	h.eventually("new updates dispatched", func() bool { return h.log.count("DISPATCH_OK", 0) == 8 && h.drained(0) })
	for i := int64(1); i <= 8; i++ {
		require.Equal(t, 1, h.log.count("DISPATCH_OK", i), "update %d dispatched once", i)
	}
	require.Zero(t, h.log.count("MESSAGE_REJECTED", 0))
	require.Zero(t, h.log.count("DEAD_LETTERED", 0))
}
