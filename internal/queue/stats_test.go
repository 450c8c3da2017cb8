package queue

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/metrics"
)

func TestStats(t *testing.T) {
	q, c, ks := newQueue(t, Options{Shards: 2})
	ctx := testCtx(t)

	st, err := q.Stats(ctx, 1)
	require.NoError(t, err, "a shard never written has zero stats")
	require.Equal(t, ShardStats{Shard: 1}, st)

	ids := enqueueN(t, q, 1, 4, 1)
	setLease(t, c, ks, 0, 1)
	_, _, err = q.ReadNew(ctx, 0, 1, "a", 2)
	require.NoError(t, err)
	_, err = q.DeadLetter(ctx, 0, 1, ids[0], Failure{Reason: "MAX_DELIVERIES"})
	require.NoError(t, err)

	q.opts.Now = func() time.Time { return IDTime(ids[1]).Add(90 * time.Second) }
	st, err = q.Stats(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, ShardStats{Shard: 0, Length: 3, Pending: 1, OldestPendingAge: 90 * time.Second, DeadLetters: 1}, st)

	m := metrics.NewTest()
	require.NoError(t, q.RefreshGauges(ctx, m, func(n int) bool { return n == 0 }))
	require.EqualValues(t, 3, value(m.QueueLength.WithLabelValues("0")))
	require.EqualValues(t, 1, value(m.QueuePending.WithLabelValues("0")))
	require.EqualValues(t, 90, value(m.OldestPending.WithLabelValues("0")))
	require.EqualValues(t, 1, value(m.DLQLength.WithLabelValues("0")))
	// shard 1 is not held here: its ACTIVE instance exports its gauges
	require.Equal(t, 1, children(m.QueueLength), "only the held shard")
	require.NoError(t, q.RefreshGauges(ctx, m, func(int) bool { return false }))
	require.Zero(t, children(m.QueueLength), "a shard no longer held has no gauges")

	_, err = q.Stats(ctx, 2)
	require.Error(t, err)
}

// value reads a gauge or counter.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}

// children counts the series of a vector.
func children(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	n := 0
	for range ch {
		n++
	}
	return n
}
