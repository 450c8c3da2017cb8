package queue

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// The embedded Redis (sandbox mode, `dispatcher smoke`) is miniredis: every
// script must run there too.
func TestScriptsRunOnMiniredis(t *testing.T) {
	_, c := redistest.Mini(t)
	ks := keys.New("mini")
	q := New(c, ks, Options{MaxBacklog: 3, DedupeWindow: time.Minute})
	ctx := testCtx(t)

	var ids []string
	for i := int64(1); i <= 3; i++ {
		res, err := q.Enqueue(ctx, env(i, 1))
		require.NoError(t, err)
		require.EqualValues(t, i, res.Depth)
		ids = append(ids, res.ID)
	}
	dup, err := q.Enqueue(ctx, env(1, 1))
	require.NoError(t, err)
	require.True(t, dup.Duplicate)
	_, err = q.Enqueue(ctx, env(4, 1))
	require.ErrorIs(t, err, ErrBacklogFull)

	_, _, err = q.ReadNew(ctx, 0, 1, "a", 2)
	require.ErrorIs(t, err, lease.ErrFenced)
	require.NoError(t, c.HSet(ctx, ks.Shard(0).Lease(), "token", 1, "holder", "x").Err())
	got, _, err := q.ReadNew(ctx, 0, 1, "a", 2)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, env(1, 1), got[0].Envelope)

	claimed, cursor, err := q.ClaimPending(ctx, 0, 1, "b", "", 10)
	require.NoError(t, err)
	require.Empty(t, cursor)
	require.Len(t, claimed, 2)
	require.EqualValues(t, 2, claimed[0].Deliveries)

	e, ok, err := q.Redeliver(ctx, 0, 1, "b", ids[0])
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 3, e.Deliveries)

	require.NoError(t, q.Ack(ctx, 0, 1, ids[0]))
	_, err = q.DeadLetter(ctx, 0, 1, ids[1], Failure{Reason: "MAX_DELIVERIES", Deliveries: 3})
	require.NoError(t, err)

	rest, last, err := q.ReadNew(ctx, 0, 1, "b", 5)
	require.NoError(t, err)
	require.Len(t, rest, 1)
	none, last, err := q.ReadNew(ctx, 0, 1, "b", 5)
	require.NoError(t, err)
	require.Empty(t, none)
	require.Equal(t, ids[2], last)
	require.NoError(t, q.WaitNew(ctx, 0, last, 10*time.Millisecond))
	require.NoError(t, q.Ack(ctx, 0, 1, ids[2]))

	st, err := q.Stats(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, ShardStats{Shard: 0, DeadLetters: 1}, st)

	n, err := q.DLQReplayAll(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	st, err = q.Stats(ctx, 0)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Length)
	require.Zero(t, st.DeadLetters)
}
