package queue

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
)

func TestEnqueueAppendsOnceAndDropsRepeats(t *testing.T) {
	q, c, ks := newQueue(t, Options{MaxBacklog: 10, DedupeWindow: time.Hour})
	ctx := testCtx(t)

	first, err := q.Enqueue(ctx, env(100, 7))
	require.NoError(t, err)
	require.False(t, first.Duplicate)
	require.NotEmpty(t, first.ID)
	require.EqualValues(t, 1, first.Depth)

	for i := 0; i < 2; i++ {
		resend := env(100, 7)
		resend.CID = "0000000" + string(rune('1'+i)) // each resend gets a cid of its own at ingest
		again, err := q.Enqueue(ctx, resend)
		require.NoError(t, err)
		require.True(t, again.Duplicate)
		require.Empty(t, again.ID)
		require.EqualValues(t, 1, again.Depth)
		require.Equal(t, env(100, 7).CID, again.OriginalCID, "a resend names the cid of the first ingest")
	}
	require.Equal(t, env(100, 7).CID, c.Get(ctx, ks.Shard(0).Seen(100)).Val(), "the marker keeps the first cid")
	second, err := q.Enqueue(ctx, env(101, 7))
	require.NoError(t, err)
	require.EqualValues(t, 2, second.Depth)
	require.EqualValues(t, 2, c.XLen(ctx, ks.Shard(0).Stream()).Val())

	ttl := c.PTTL(ctx, ks.Shard(0).Seen(100)).Val()
	require.Greater(t, ttl, 59*time.Minute, "the marker lives for DEDUPE_WINDOW")
}

// TestDuplicateOfAnOldMarker: a marker written before markers kept the cid
// (value "1", during a rolling upgrade) still dedupes, with no original.
func TestDuplicateOfAnOldMarker(t *testing.T) {
	q, c, ks := newQueue(t, Options{MaxBacklog: 10, DedupeWindow: time.Hour})
	ctx := testCtx(t)
	require.NoError(t, c.Set(ctx, ks.Shard(0).Seen(300), 1, time.Hour).Err())
	res, err := q.Enqueue(ctx, env(300, 7))
	require.NoError(t, err)
	require.True(t, res.Duplicate)
	require.Empty(t, res.OriginalCID)
	require.EqualValues(t, 0, c.XLen(ctx, ks.Shard(0).Stream()).Val())
}

func TestEnqueueStoresTheEnvelope(t *testing.T) {
	for _, format := range Formats() {
		t.Run(fmt.Sprintf("format %d", format), func(t *testing.T) {
			q, c, ks := newQueue(t, Options{DedupeWindow: time.Minute})
			q.SetFormat(format)
			ctx := testCtx(t)
			e := Envelope{CID: "a1b2c3d4", UpdateID: 42, Type: "callback_query", ChatID: -100123, UserID: 99,
				Payload: []byte(`{"update_id":42,"x":"ü"}`), Ingest: "inst 1"}
			res, err := q.Enqueue(ctx, e)
			require.NoError(t, err)

			msgs, err := c.XRange(ctx, ks.Shard(0).Stream(), "-", "+").Result()
			require.NoError(t, err)
			require.Len(t, msgs, 1)
			require.Equal(t, res.ID, msgs[0].ID)
			got, err := decodeFields(0, mapOf(msgs[0].Values))
			require.NoError(t, err)
			require.Equal(t, e, got)
			require.WithinDuration(t, time.Now(), IDTime(res.ID), 5*time.Second)
			require.Equal(t, "a1b2c3d4", c.Get(ctx, ks.Shard(0).Seen(42)).Val(), "the marker keeps the cid")

			// the script adds the names to the values it is given: the entry is
			// appendFields' pairs, in their order
			raw, err := c.Do(ctx, "XRANGE", ks.Shard(0).Stream(), "-", "+").Slice()
			require.NoError(t, err)
			var want []any
			for _, v := range e.appendFields(nil, format) {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				want = append(want, v)
			}
			require.Equal(t, want, raw[0].([]any)[1])
			// what a reader of an earlier version (FormatFields only) needs to
			// dispatch it is in either format: uid, type (its router routes
			// by it) and payload
			require.Equal(t, "42", msgs[0].Values[fUID])
			require.Equal(t, "callback_query", msgs[0].Values[fType])
			require.Equal(t, string(e.Payload), msgs[0].Values[fPayload])
		})
	}
}

// TestAPackedQueueWritesFieldsForAnUnpackableEnvelope: an envelope whose cid
// holds a space cannot be packed; its call is written in FormatFields and
// reads back whole.
func TestAPackedQueueWritesFieldsForAnUnpackableEnvelope(t *testing.T) {
	q, c, ks := newQueue(t, Options{DedupeWindow: time.Minute})
	q.SetFormat(FormatPacked)
	ctx := testCtx(t)
	e := Envelope{CID: "a b", UpdateID: 43, Type: "message", ChatID: 1, UserID: 2, Payload: []byte(`{}`), Ingest: "i"}
	_, err := q.Enqueue(ctx, e)
	require.NoError(t, err)
	msgs, err := c.XRange(ctx, ks.Shard(0).Stream(), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, "a b", msgs[0].Values[fCID])
	require.NotContains(t, msgs[0].Values, fHeader)
	got, err := decodeFields(0, mapOf(msgs[0].Values))
	require.NoError(t, err)
	require.Equal(t, e, got)
}

// TestAFailedAppendLeavesNoMarker: the script writes an update's marker
// (SET NX) before its append; when the append fails, the marker goes too,
// so that Telegram's resend is appended, not taken for a duplicate.
func TestAFailedAppendLeavesNoMarker(t *testing.T) {
	q, c, ks := newQueue(t, Options{DedupeWindow: time.Hour})
	ctx := testCtx(t)
	// a stream at the last possible id: XADD * fails on it
	require.NoError(t, c.XAdd(ctx, &redis.XAddArgs{Stream: ks.Shard(0).Stream(), ID: "18446744073709551615-18446744073709551615",
		Values: []any{"f", "v"}}).Err())
	_, err := q.Enqueue(ctx, env(500, 1))
	require.ErrorIs(t, err, ErrUnavailable)
	require.Zero(t, c.Exists(ctx, ks.Shard(0).Seen(500)).Val(), "no marker without its entry")

	require.NoError(t, c.Del(ctx, ks.Shard(0).Stream()).Err())
	res, err := q.Enqueue(ctx, env(500, 1))
	require.NoError(t, err)
	require.False(t, res.Duplicate, "the resend is appended")
}

func TestSetFormatIgnoresUnknownFormats(t *testing.T) {
	q := New(nil, keys.New("t"), Options{})
	require.Equal(t, FormatFields, q.Format(), "a new Queue writes what every version reads")
	q.SetFormat(FormatPacked)
	require.Equal(t, FormatPacked, q.Format())
	q.SetFormat(3)
	q.SetFormat(0)
	require.Equal(t, FormatPacked, q.Format())
}

func TestEnqueueRefusesOverBacklogAndAcceptsOnceDrained(t *testing.T) {
	q, c, ks := newQueue(t, Options{MaxBacklog: 3, DedupeWindow: time.Hour})
	ctx := testCtx(t)
	var ids []string
	for i := int64(1); i <= 3; i++ {
		res, err := q.Enqueue(ctx, env(i, 1))
		require.NoError(t, err)
		ids = append(ids, res.ID)
	}
	res, err := q.Enqueue(ctx, env(4, 1))
	require.ErrorIs(t, err, ErrBacklogFull)
	require.EqualValues(t, 3, res.Depth)
	require.EqualValues(t, 3, c.XLen(ctx, ks.Shard(0).Stream()).Val(), "nothing written when full")
	require.Zero(t, c.Exists(ctx, ks.Shard(0).Seen(4)).Val(), "a refused update is not remembered")

	dup, err := q.Enqueue(ctx, env(2, 1))
	require.NoError(t, err, "a repeat is still accepted when full: it is already durable")
	require.True(t, dup.Duplicate)

	require.NoError(t, c.XDel(ctx, ks.Shard(0).Stream(), ids[0]).Err())
	res, err = q.Enqueue(ctx, env(4, 1))
	require.NoError(t, err)
	require.False(t, res.Duplicate)
	require.EqualValues(t, 3, res.Depth)
}

func TestEnqueueRemembersOnlyForTheWindow(t *testing.T) {
	q, c, ks := newQueue(t, Options{DedupeWindow: 30 * time.Millisecond})
	ctx := testCtx(t)
	_, err := q.Enqueue(ctx, env(5, 1))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.Exists(ctx, ks.Shard(0).Seen(5)).Val() == 0 },
		5*time.Second, 5*time.Millisecond)
	res, err := q.Enqueue(ctx, env(5, 1))
	require.NoError(t, err)
	require.False(t, res.Duplicate)
	require.EqualValues(t, 2, res.Depth)
}

func TestEnqueueWithoutDedupe(t *testing.T) {
	q, c, ks := newQueue(t, Options{})
	ctx := testCtx(t)
	for i := 0; i < 2; i++ {
		res, err := q.Enqueue(ctx, env(5, 1))
		require.NoError(t, err)
		require.False(t, res.Duplicate)
	}
	require.Zero(t, c.Exists(ctx, ks.Shard(0).Seen(5)).Val())
}

func TestEnqueueShardOutOfRange(t *testing.T) {
	q, _, _ := newQueue(t, Options{Shards: 2})
	e := env(1, 1)
	e.Shard = 2
	_, err := q.Enqueue(testCtx(t), e)
	require.Error(t, err)
}

func TestEnqueueRedisDownIsUnavailable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	q := New(c, keys.New("down"), Options{DedupeWindow: time.Minute})
	_, err := q.Enqueue(context.Background(), env(1, 1))
	require.ErrorIs(t, err, ErrUnavailable)
	require.False(t, errors.Is(err, ErrBacklogFull))
}
