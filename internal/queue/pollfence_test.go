package queue

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
)

// TestStalePollerAppendIsFenced: once a poller with a larger token claimed
// the streams, the append of a stale poller is refused and writes nothing,
// not even a dedupe marker, whatever the dedupe window says; the current
// poller's append goes through, and a webhook's append (token 0) is never
// fenced.
func TestStalePollerAppendIsFenced(t *testing.T) {
	q, c, ks := newQueue(t, Options{Shards: 2, DedupeWindow: time.Millisecond})
	ctx := testCtx(t)

	first := env(500, 7)
	first.Shard = 1
	_, err := q.EnqueuePolled(ctx, first, 10)
	require.NoError(t, err, "the first poller's append raises the fence of its shard")
	require.Equal(t, "10", c.Get(ctx, ks.Shard(1).PollFence()).Val())

	require.NoError(t, q.ClaimPollFence(ctx, 20), "a successor claims every shard")
	for n := 0; n < 2; n++ {
		require.Equal(t, "20", c.Get(ctx, ks.Shard(n).PollFence()).Val(), "shard %d", n)
	}

	for n := 0; n < 2; n++ {
		late := env(501+int64(n), 7)
		late.Shard = n
		_, err = q.EnqueuePolled(ctx, late, 10)
		require.True(t, errors.Is(err, lease.ErrFenced), "a stale poller's append on shard %d is fenced: %v", n, err)
		require.Zero(t, c.Exists(ctx, ks.Shard(n).Seen(late.UpdateID)).Val(), "no dedupe marker written")
	}
	require.EqualValues(t, 1, c.XLen(ctx, ks.Shard(1).Stream()).Val(), "only the first append is on the stream")
	require.EqualValues(t, 0, c.XLen(ctx, ks.Shard(0).Stream()).Val())

	cur := env(501, 7)
	_, err = q.EnqueuePolled(ctx, cur, 20)
	require.NoError(t, err, "the current poller appends")
	_, err = q.Enqueue(ctx, env(502, 7))
	require.NoError(t, err, "the webhook's append is not fenced")
	require.EqualValues(t, 2, c.XLen(ctx, ks.Shard(0).Stream()).Val())

	require.True(t, errors.Is(q.ClaimPollFence(ctx, 15), lease.ErrFenced), "a claim below the fence is refused")
	require.Equal(t, "20", c.Get(ctx, ks.Shard(0).PollFence()).Val(), "and changes nothing")

	_, err = q.EnqueuePolled(ctx, env(503, 7), 0)
	require.Error(t, err, "a poller's append needs its token")
}
