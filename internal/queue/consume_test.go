package queue

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
)

func enqueueN(t *testing.T, q *Queue, from, n int64, chat int64) []string {
	t.Helper()
	var ids []string
	for i := from; i < from+n; i++ {
		res, err := q.Enqueue(testCtx(t), env(i, chat))
		require.NoError(t, err)
		ids = append(ids, res.ID)
	}
	return ids
}

func TestReadNewIsFencedAndCreatesTheGroup(t *testing.T) {
	q, c, ks := newQueue(t, Options{DedupeWindow: time.Minute})
	ctx := testCtx(t)
	ids := enqueueN(t, q, 1, 3, 10)

	_, _, err := q.ReadNew(ctx, 0, 7, "a", 10)
	require.ErrorIs(t, err, lease.ErrFenced, "no lease at all")
	setLease(t, c, ks, 0, 7)
	_, _, err = q.ReadNew(ctx, 0, 6, "a", 10)
	require.ErrorIs(t, err, lease.ErrFenced, "stale token")
	require.Error(t, c.XPending(ctx, ks.Shard(0).Stream(), keys.Group).Err(), "a refused read creates nothing")

	got, _, err := q.ReadNew(ctx, 0, 7, "a", 2)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, ids[:2], []string{got[0].ID, got[1].ID})
	require.EqualValues(t, 1, got[0].Deliveries)
	require.EqualValues(t, 1, got[0].Envelope.UpdateID)
	require.Equal(t, int64(10), got[0].Envelope.ChatID)
	require.NoError(t, got[0].Invalid)

	got, _, err = q.ReadNew(ctx, 0, 7, "a", 2)
	require.NoError(t, err)
	require.Len(t, got, 1)
	got, last, err := q.ReadNew(ctx, 0, 7, "a", 2)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, ids[2], last, "an empty read tells the group's last delivered id")
	require.EqualValues(t, 3, c.XPending(ctx, ks.Shard(0).Stream(), keys.Group).Val().Count)
}

func TestReadNewMarksAMalformedEntryInvalid(t *testing.T) {
	q, c, ks := newQueue(t, Options{})
	ctx := testCtx(t)
	setLease(t, c, ks, 0, 1)
	require.NoError(t, c.XAdd(ctx, &redis.XAddArgs{Stream: ks.Shard(0).Stream(), Values: []any{"uid", "nope"}}).Err())
	got, _, err := q.ReadNew(ctx, 0, 1, "a", 5)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Error(t, got[0].Invalid)
}

func TestWaitNewBlocksUntilAnEntryArrives(t *testing.T) {
	q, c, ks := newQueue(t, Options{})
	ctx := testCtx(t)
	setLease(t, c, ks, 0, 1)
	_, last, err := q.ReadNew(ctx, 0, 1, "a", 5)
	require.NoError(t, err)
	require.Equal(t, "0-0", last)

	start := time.Now()
	require.NoError(t, q.WaitNew(ctx, 0, last, 150*time.Millisecond))
	require.GreaterOrEqual(t, time.Since(start), 140*time.Millisecond, "nothing new: the wait runs out")

	woke := make(chan time.Duration, 1)
	go func() {
		s := time.Now()
		_ = q.WaitNew(ctx, 0, last, 10*time.Second)
		woke <- time.Since(s)
	}()
	// The append happens after the wait started or before: both wake it at once.
	enqueueN(t, q, 1, 1, 3)
	select {
	case d := <-woke:
		require.Less(t, d, 5*time.Second)
	case <-time.After(8 * time.Second):
		t.Fatal("WaitNew did not wake on a new entry")
	}
	require.EqualValues(t, 0, c.XPending(ctx, ks.Shard(0).Stream(), keys.Group).Val().Count, "a wait takes nothing")
	got, _, err := q.ReadNew(ctx, 0, 1, "a", 5)
	require.NoError(t, err)
	require.Len(t, got, 1)
}

func TestClaimPendingTakesAPredecessorsEntriesOldestFirst(t *testing.T) {
	q, c, ks := newQueue(t, Options{})
	ctx := testCtx(t)
	ids := enqueueN(t, q, 1, 5, 1)
	setLease(t, c, ks, 0, 1)
	_, _, err := q.ReadNew(ctx, 0, 1, "dead", 3) // the predecessor took three and died
	require.NoError(t, err)

	setLease(t, c, ks, 0, 2)
	_, _, err = q.ClaimPending(ctx, 0, 1, "dead", "", 2)
	require.ErrorIs(t, err, lease.ErrFenced, "the predecessor's token is stale once the lease moved")

	got, cursor, err := q.ClaimPending(ctx, 0, 2, "next", "", 2)
	require.NoError(t, err)
	require.Equal(t, []string{ids[0], ids[1]}, []string{got[0].ID, got[1].ID})
	require.EqualValues(t, 2, got[0].Deliveries, "a claim is a delivery")
	require.Equal(t, ids[1], cursor)

	got, cursor, err = q.ClaimPending(ctx, 0, 2, "next", cursor, 2)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, ids[2], got[0].ID)
	require.Empty(t, cursor, "the pending list was walked to its end")

	pend, err := c.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: ks.Shard(0).Stream(), Group: keys.Group,
		Start: "-", End: "+", Count: 10}).Result()
	require.NoError(t, err)
	require.Len(t, pend, 3)
	for _, p := range pend {
		require.Equal(t, "next", p.Consumer)
	}
	// entries 4 and 5 were never delivered: they come from ReadNew
	fresh, _, err := q.ReadNew(ctx, 0, 2, "next", 10)
	require.NoError(t, err)
	require.Equal(t, []string{ids[3], ids[4]}, []string{fresh[0].ID, fresh[1].ID})
}

func TestClaimPendingSkipsDeletedEntries(t *testing.T) {
	q, c, ks := newQueue(t, Options{})
	ctx := testCtx(t)
	ids := enqueueN(t, q, 1, 2, 1)
	setLease(t, c, ks, 0, 1)
	_, _, err := q.ReadNew(ctx, 0, 1, "dead", 2)
	require.NoError(t, err)
	require.NoError(t, c.XDel(ctx, ks.Shard(0).Stream(), ids[0]).Err())
	got, cursor, err := q.ClaimPending(ctx, 0, 1, "next", "", 10)
	require.NoError(t, err)
	require.Empty(t, cursor)
	require.Len(t, got, 1)
	require.Equal(t, ids[1], got[0].ID)
	require.EqualValues(t, 1, c.XPending(ctx, ks.Shard(0).Stream(), keys.Group).Val().Count)
}

func TestClaimPendingWithoutGroupIsEmpty(t *testing.T) {
	q, c, ks := newQueue(t, Options{})
	setLease(t, c, ks, 0, 1)
	got, cursor, err := q.ClaimPending(testCtx(t), 0, 1, "a", "", 10)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Empty(t, cursor)
}

func TestRedeliverCountsADelivery(t *testing.T) {
	q, c, ks := newQueue(t, Options{})
	ctx := testCtx(t)
	ids := enqueueN(t, q, 1, 1, 1)
	setLease(t, c, ks, 0, 1)
	_, _, err := q.ReadNew(ctx, 0, 1, "a", 1)
	require.NoError(t, err)
	for want := int64(2); want <= 4; want++ {
		e, ok, err := q.Redeliver(ctx, 0, 1, "a", ids[0])
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, want, e.Deliveries)
		require.EqualValues(t, 1, e.Envelope.UpdateID)
	}
	require.NoError(t, q.Ack(ctx, 0, 1, ids[0]))
	_, ok, err := q.Redeliver(ctx, 0, 1, "a", ids[0])
	require.NoError(t, err)
	require.False(t, ok, "an acknowledged entry is not redelivered")
}
