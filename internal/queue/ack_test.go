package queue

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
)

func TestAckIsFencedAndEmptiesTheStream(t *testing.T) {
	q, c, ks := newQueue(t, Options{})
	ctx := testCtx(t)
	ids := enqueueN(t, q, 1, 2, 1)
	setLease(t, c, ks, 0, 3)
	_, _, err := q.ReadNew(ctx, 0, 3, "a", 2)
	require.NoError(t, err)

	setLease(t, c, ks, 0, 4) // a successor took the lease
	err = q.Ack(ctx, 0, 3, ids[0])
	require.ErrorIs(t, err, lease.ErrFenced)
	require.EqualValues(t, 2, c.XPending(ctx, ks.Shard(0).Stream(), keys.Group).Val().Count, "a refused ack leaves the entry pending")
	require.EqualValues(t, 2, c.XLen(ctx, ks.Shard(0).Stream()).Val())

	for _, id := range ids {
		require.NoError(t, q.Ack(ctx, 0, 4, id))
	}
	require.NoError(t, q.Ack(ctx, 0, 4, ids[0]), "acking twice is harmless")
	require.Zero(t, c.XLen(ctx, ks.Shard(0).Stream()).Val(), "acked entries leave the stream")
	require.Zero(t, c.XPending(ctx, ks.Shard(0).Stream(), keys.Group).Val().Count)
}

func TestDeadLetterMovesTheEntryWithItsReason(t *testing.T) {
	q, c, ks := newQueue(t, Options{})
	ctx := testCtx(t)
	ids := enqueueN(t, q, 1, 1, 77)
	setLease(t, c, ks, 0, 1)
	_, _, err := q.ReadNew(ctx, 0, 1, "a", 1)
	require.NoError(t, err)
	f := Failure{Reason: "MAX_DELIVERIES", ErrorType: "HANDLER_PANIC", Error: "handler panic: boom", Deliveries: 5, Instance: "i1"}

	_, err = q.DeadLetter(ctx, 0, 2, ids[0], f)
	require.ErrorIs(t, err, lease.ErrFenced)
	require.Zero(t, c.XLen(ctx, ks.Shard(0).DLQ()).Val())

	dlqID, err := q.DeadLetter(ctx, 0, 1, ids[0], f)
	require.NoError(t, err)
	require.NotEmpty(t, dlqID)
	require.Zero(t, c.XLen(ctx, ks.Shard(0).Stream()).Val())
	require.Zero(t, c.XPending(ctx, ks.Shard(0).Stream(), keys.Group).Val().Count)

	list, err := q.DLQList(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	d := list[0]
	require.Equal(t, dlqID, d.ID)
	require.Equal(t, ids[0], d.StreamID)
	require.Equal(t, env(1, 77), d.Envelope)
	require.Equal(t, "MAX_DELIVERIES", d.Reason)
	require.Equal(t, "HANDLER_PANIC", d.ErrorType)
	require.Equal(t, "handler panic: boom", d.Error)
	require.EqualValues(t, 5, d.Deliveries)
	require.Equal(t, "i1", d.By)

	again, err := q.DeadLetter(ctx, 0, 1, ids[0], f)
	require.NoError(t, err)
	require.Empty(t, again, "an entry already gone is not dead-lettered twice")
}
