package inspect

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

type fakeJournal map[string][]telemetry.JournalEvent

func (j fakeJournal) Chain(_ context.Context, cid string) ([]telemetry.JournalEvent, error) {
	return append([]telemetry.JournalEvent(nil), j[cid]...), nil
}

// LastCIDs lists the older first, as a journal with second-granular times
// may within one second.
func (j fakeJournal) LastCIDs(_ context.Context, _ int64, n int) ([]string, error) {
	return []string{"a1b2c3d4", "5f3a9c1e"}[:min(n, 2)], nil
}

func newInspector(t *testing.T, j fakeJournal) (*Inspector, *queue.Queue) {
	t.Helper()
	c, ns := redistest.Client(t)
	ks := keys.New(ns)
	q := queue.New(c, ks, queue.Options{Shards: 2})
	return New(Config{Redis: &redisx.Client{UniversalClient: c, Mode: "single"}, Keys: ks, Namespace: ns, Shards: 2,
		Queue: q, Journal: j}), q
}

func ev(name, ts string, fields ...string) telemetry.JournalEvent {
	e := telemetry.JournalEvent{telemetry.FName: name, telemetry.FTS: ts}
	for i := 0; i+1 < len(fields); i += 2 {
		e[fields[i]] = fields[i+1]
	}
	return e
}

// TestTraceFollowsAResend: a chain is oldest first, and a resend's chain
// comes with its original's; a user's chains are newest first.
func TestTraceFollowsAResend(t *testing.T) {
	in, _ := newInspector(t, fakeJournal{
		"a1b2c3d4": {ev("DISPATCH_OK", "2026-12-01T10:00:00.002Z"), ev("QUEUE_ENQUEUE", "2026-12-01T10:00:00.001Z")},
		"5f3a9c1e": {ev("DUPLICATE_UPDATE", "2026-12-01T10:00:01Z", telemetry.FOriginalCID, "a1b2c3d4")},
	})
	ctx := context.Background()
	ch, err := in.Trace(ctx, "a1b2c3d4")
	require.NoError(t, err)
	require.Equal(t, "QUEUE_ENQUEUE", ch.Events[0].Name(), "sorted by ts")
	require.Empty(t, ch.Original)
	ch, err = in.Trace(ctx, "5f3a9c1e")
	require.NoError(t, err)
	require.Equal(t, "a1b2c3d4", ch.Original)
	require.Len(t, ch.OriginalEvents, 2)
	ch, err = in.Trace(ctx, "00000000")
	require.NoError(t, err)
	require.Empty(t, ch.Events, "unknown: no error")
	chains, err := in.UserChains(ctx, 42, 5)
	require.NoError(t, err)
	require.Len(t, chains, 2)
	require.Equal(t, "5f3a9c1e", chains[0].CID, "newest first by the events' times")
}

// TestDeadLetterIDs: ids replay and drop cannot use are *IDError, telling
// a malformed id from one that is no dead letter.
func TestDeadLetterIDs(t *testing.T) {
	in, _ := newInspector(t, fakeJournal{})
	ctx := context.Background()
	for _, id := range []string{"2/1-0", "x/1-0", "-1/1-0", "0/notanid"} {
		_, err := in.Drop(ctx, id)
		var ie *IDError
		require.True(t, errors.As(err, &ie), "%s: %v", id, err)
		require.ErrorIs(t, err, ErrBadID, id)
		require.Contains(t, ie.Reason, id)
	}
	n, err := in.Replay(ctx, "0/1-1")
	require.ErrorIs(t, err, ErrNoDeadLetter)
	require.Zero(t, n)
	require.Equal(t, "no dead letter 0/1-1", err.Error())
	_, err = in.Drop(ctx, "1-1")
	require.ErrorIs(t, err, ErrNoDeadLetter, "a bare id is looked for on every shard")
}

// TestCountersGiveTheRate: entries appended and entries that left the
// streams, per second, between two readings.
func TestCountersGiveTheRate(t *testing.T) {
	in, q := newInspector(t, fakeJournal{})
	ctx := context.Background()
	at := time.Now()
	c0, err := in.Counters(ctx, at)
	require.NoError(t, err)
	require.Equal(t, []int64{0, 0}, c0.Added, "no stream yet")
	for i := int64(1); i <= 4; i++ {
		_, err := q.Enqueue(ctx, queue.Envelope{CID: "0badcafe", UpdateID: i, Type: "message", Shard: int(i % 2),
			Payload: []byte(`{}`)})
		require.NoError(t, err)
	}
	c1, err := in.Counters(ctx, at.Add(2*time.Second))
	require.NoError(t, err)
	require.Equal(t, []int64{2, 2}, c1.Added)
	require.Equal(t, []int64{2, 2}, c1.Length)
	r := RateBetween(c0, c1)
	require.True(t, r.Known)
	require.InDelta(t, 2, r.In, 0.001)
	require.InDelta(t, 0, r.Done, 0.001, "nothing left the streams")
	require.False(t, RateBetween(c1, c0).Known, "backwards")
	c1.Added[1] = -1
	require.False(t, RateBetween(c0, c1).Known, "a server that does not count")
}
