package queue

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

func usedMemory(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	require.NoError(t, err)
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no used_memory in INFO")
	return 0
}

// TestMemoryPerUpdate measures, on a dedicated redis-server, what one
// remembered update_id and one pending update cost; docs/queue.md quotes
// the figures (go test -run TestMemoryPerUpdate -v ./internal/queue).
func TestMemoryPerUpdate(t *testing.T) {
	srv := redistest.NewServer(t, false)
	c := srv.Client()
	ctx := context.Background()
	ks := keys.New("tgd")
	const n = 20000

	// dedupe markers, exactly as enqueue.lua writes them
	before := usedMemory(t, c)
	p := c.Pipeline()
	for i := int64(0); i < n; i++ {
		p.Set(ctx, ks.Shard(0).Seen(700000000+i), 1, time.Hour)
	}
	_, err := p.Exec(ctx)
	require.NoError(t, err)
	perMarker := float64(usedMemory(t, c)-before) / n
	oneMarker := c.MemoryUsage(ctx, ks.Shard(0).Seen(700000001)).Val()
	t.Logf("dedupe marker: %.1f bytes each by used_memory (%d markers), MEMORY USAGE of one: %d bytes", perMarker, n, oneMarker)
	require.Less(t, perMarker, 200.0)
	require.NoError(t, c.FlushAll(ctx).Err())

	// pending updates: a realistic payload, enqueued, then read into the
	// consumer's pending list
	payload, err := os.ReadFile("testdata/updates/callback_query.json")
	require.NoError(t, err)
	q := New(c, ks, Options{})
	require.NoError(t, c.HSet(ctx, ks.Shard(0).Lease(), "token", 1, "holder", "x").Err())
	_, _, err = q.ReadNew(ctx, 0, 1, "i1", 1) // creates the group
	require.NoError(t, err)
	before = usedMemory(t, c)
	const m = 5000
	ids := make([]string, 0, m)
	for i := int64(0); i < m; i++ {
		e := Envelope{CID: "a1b2c3d4", UpdateID: 700000000 + i, Type: "callback_query", ChatID: 100200300 + i%300,
			UserID: 100200300, Payload: payload, Ingest: "host-12345"}
		res, err := q.Enqueue(ctx, e)
		require.NoError(t, err)
		ids = append(ids, res.ID)
	}
	queued := usedMemory(t, c)
	for read := 0; read < m; {
		got, _, err := q.ReadNew(ctx, 0, 1, "i1", 500)
		require.NoError(t, err)
		read += len(got)
	}
	pending := usedMemory(t, c)
	perQueued := float64(queued-before) / m
	perPending := float64(pending-before) / m
	stream := c.MemoryUsage(ctx, ks.Shard(0).Stream(), 0).Val()
	t.Logf("update with a %d-byte payload: %.0f bytes queued, %.0f bytes once pending (stream MEMORY USAGE %d bytes for %d entries = %.0f each)",
		len(payload), perQueued, perPending, stream, m, float64(stream)/m)
	require.Less(t, perPending, float64(len(payload))+600)

	const dead = 1000
	beforeDLQ := usedMemory(t, c)
	for _, id := range ids[:dead] {
		_, err := q.DeadLetter(ctx, 0, 1, id, Failure{Reason: "MAX_DELIVERIES", ErrorType: "HANDLER_PANIC",
			Error: "handler panic: runtime error: index out of range [3] with length 3", Deliveries: 5, Instance: "host-12345"})
		require.NoError(t, err)
	}
	// the dead letters' growth, less what their stream entries gave back (measured as the acks below do)
	dlqGrowth := usedMemory(t, c) - beforeDLQ
	for _, id := range ids[dead:] {
		require.NoError(t, q.Ack(ctx, 0, 1, id))
	}
	perDead := float64(usedMemory(t, c)-before) / dead
	t.Logf("dead letter: %.0f bytes each once the stream is empty (growth while moving: %d)", perDead, dlqGrowth)
	require.NoError(t, c.Del(ctx, ks.Shard(0).DLQ()).Err())
	require.Zero(t, c.XLen(ctx, ks.Shard(0).Stream()).Val())
	after := usedMemory(t, c)
	t.Logf("after acking all: %d bytes above the empty-stream baseline (buffers, script cache)", after-before)
	require.Less(t, after-before, (pending-before)/20, "acked entries give their memory back")
}
