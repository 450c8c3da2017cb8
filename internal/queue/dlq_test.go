package queue

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// deadLetters enqueues n updates and dead-letters them; it returns their
// dead-letter ids.
func deadLetters(t *testing.T, q *Queue, n int64) []string {
	t.Helper()
	ctx := testCtx(t)
	ids := enqueueN(t, q, 1, n, 5)
	var out []string
	for _, id := range ids {
		d, err := q.DeadLetter(ctx, 0, 1, id, Failure{Reason: "MAX_DELIVERIES", Deliveries: 5})
		require.NoError(t, err)
		out = append(out, d)
	}
	return out
}

func TestDLQReplayPutsEntriesBackAsNew(t *testing.T) {
	for _, format := range Formats() {
		t.Run(fmt.Sprintf("format %d", format), func(t *testing.T) {
			c, ns := redistest.Client(t)
			var logs bytes.Buffer
			log, err := telemetry.New(telemetry.Options{Format: "json", Output: &logs, Instance: "ops"})
			require.NoError(t, err)
			ks := keys.New(ns)
			q := New(c, ks, Options{MaxBacklog: 1, DedupeWindow: time.Hour, Log: log})
			q.SetFormat(format)
			ctx := testCtx(t)
			setLease(t, c, ks, 0, 1)
			q.opts.MaxBacklog = 0
			dl := deadLetters(t, q, 3)
			q.opts.MaxBacklog = 1 // replay ignores the backlog limit and the dedupe markers

			list, err := q.DLQList(ctx, 0, 0)
			require.NoError(t, err)
			require.Len(t, list, 3)
			require.Equal(t, env(2, 5), list[1].Envelope, "a dead letter shows its whole envelope")

			n, err := q.DLQReplay(ctx, 0, dl[1], "1-1")
			require.NoError(t, err)
			require.Equal(t, 1, n, "an id that is no dead letter is skipped")
			msgs := c.XRange(ctx, ks.Shard(0).Stream(), "-", "+").Val()
			require.Len(t, msgs, 1)
			got, err := decodeFields(0, mapOf(msgs[0].Values))
			require.NoError(t, err)
			require.Equal(t, env(2, 5), got)
			require.Equal(t, dl[1], msgs[0].Values["replay_of"])
			_, packed := msgs[0].Values[fHeader]
			require.Equal(t, format == FormatPacked, packed, "a replayed entry keeps its dead letter's format")
			require.Contains(t, logs.String(), `"name":"DLQ_REPLAYED"`)
			require.Contains(t, logs.String(), `"cid":"0badcafe"`)

			n, err = q.DLQReplay(ctx, 0)
			require.NoError(t, err)
			require.Zero(t, n, "no ids, nothing replayed")

			n, err = q.DLQReplayAll(ctx, 0)
			require.NoError(t, err)
			require.Equal(t, 2, n)
			require.Zero(t, c.XLen(ctx, ks.Shard(0).DLQ()).Val())
			require.EqualValues(t, 3, c.XLen(ctx, ks.Shard(0).Stream()).Val())
		})
	}
}

func TestDLQDrop(t *testing.T) {
	q, c, ks := newQueue(t, Options{})
	ctx := testCtx(t)
	setLease(t, c, ks, 0, 1)
	dl := deadLetters(t, q, 3)
	n, err := q.DLQDrop(ctx, 0)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = q.DLQDrop(ctx, 0, dl[0], dl[2], "1-1")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	list, err := q.DLQList(ctx, 0, 0)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, dl[1], list[0].ID)
}

func TestDLQRefusesMalformedIDs(t *testing.T) {
	q, _, _ := newQueue(t, Options{})
	for _, id := range []string{"", "abc", "1-x", "-1", strings.Repeat("9", 30)} {
		_, err := q.DLQReplay(testCtx(t), 0, id)
		require.ErrorIs(t, err, ErrBadID, id)
		_, err = q.DLQDrop(testCtx(t), 0, id)
		require.ErrorIs(t, err, ErrBadID, id)
	}
	_, err := q.DLQDrop(testCtx(t), 0, "1700000000000")
	require.NoError(t, err, "a bare millisecond id is valid")
}
