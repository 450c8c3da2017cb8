package queue

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// writesTo subscribes to the keyspace events of key on c's server (the
// events must be enabled) and returns the channel of event names.
func writesTo(t *testing.T, ctx context.Context, c *redis.Client, key string) <-chan string {
	t.Helper()
	sub := c.Subscribe(ctx, "__keyspace@0__:"+key)
	t.Cleanup(func() { _ = sub.Close() })
	_, err := sub.Receive(ctx) // the subscription is live
	require.NoError(t, err)
	out := make(chan string, 16)
	go func() {
		for m := range sub.Channel() {
			out <- m.Payload
		}
	}()
	return out
}

// nextWrite returns the next event on ch, failing after a bounded wait.
func nextWrite(t *testing.T, ch <-chan string, what string) string {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no write seen: %s", what)
	}
	return ""
}

// The resend of an update that got 503 (REPLICAS_UNAVAILABLE) is a
// duplicate: it must be answered 200 only once the original append is on
// the replicas. WAIT covers the writes its connection made, and Redis 7.2+
// records a connection's offset only after a write of its own, so the
// duplicate path itself writes (it refreshes the marker's expiry) before
// its WAIT: the WAIT then covers the master's whole stream up to the
// duplicate, the original append included, on every version. The test
// checks both the outcome (a fresh connection, as on another instance, is
// not confirmed while the replica lags) and, independent of the version's
// bookkeeping, that the duplicate's call advanced the replication offset.
func TestDuplicateUnderWaitReplicasCoversTheOriginal(t *testing.T) {
	master, replica := redistest.NewServer(t, false), redistest.NewServer(t, false)
	ctx := testCtx(t)
	mc := master.Client()
	// no replication PINGs: the offset moves only with our writes
	require.NoError(t, mc.ConfigSet(ctx, "repl-ping-replica-period", "3600").Err())
	px := redistest.NewReplicationProxy(t, master.Addr())
	require.NoError(t, mc.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err())
	require.NoError(t, replica.Client().Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(px.Port())).Err())
	require.Eventually(t, func() bool {
		info, err := replica.Client().Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}, 10*time.Second, 20*time.Millisecond, "replica did not come online")

	ks := keys.New("resend")
	// a short wait where the replica cannot confirm, a long one where it
	// should (on a loaded machine its ack can take longer than 200 ms)
	opts := Options{Shards: 1, DedupeWindow: time.Minute, WaitReplicas: 1, WaitTimeout: 200 * time.Millisecond}
	patient := opts
	patient.WaitTimeout = 10 * time.Second
	a := New(mc, ks, opts)
	res, err := New(mc, ks, patient).Enqueue(ctx, env(1, 10))
	require.NoError(t, err, "confirmed while the replica follows")

	px.Freeze() // the replica stops getting the master's stream
	res, err = a.Enqueue(ctx, env(2, 10))
	require.True(t, errors.Is(err, ErrNotReplicated), "%v", err)
	require.NotEmpty(t, res.ID)

	// The resend arrives on another instance: another client, another connection.
	other := redis.NewClient(master.Options())
	t.Cleanup(func() { _ = other.Close() })
	b := New(other, ks, opts)
	resend := env(2, 10)
	resend.CID = "00000002"
	require.NoError(t, mc.ConfigSet(ctx, "notify-keyspace-events", "Kg$").Err())
	marker := writesTo(t, ctx, mc, ks.Shard(0).Seen(2))
	res, err = b.Enqueue(ctx, resend)
	require.True(t, res.Duplicate)
	// Version-independent: the duplicate's own call wrote (a write of its
	// connection, so its WAIT covers the master's stream up to there).
	require.Equal(t, "expire", nextWrite(t, marker, "the duplicate wrote nothing: its WAIT covers only its connection's earlier writes"))
	require.True(t, errors.Is(err, ErrNotReplicated), "a duplicate is not confirmed while its original is on the master alone: %v", err)

	// Once the replica caught up, the next resend is confirmed.
	px.Thaw()
	res, err = New(other, ks, patient).Enqueue(ctx, resend)
	require.NoError(t, err)
	require.True(t, res.Duplicate)
	n, err := replica.Client().XLen(ctx, ks.Shard(0).Stream()).Result()
	require.NoError(t, err)
	require.EqualValues(t, 2, n)

	require.Equal(t, "expire", nextWrite(t, marker, "second resend"))

	// Without WAIT_REPLICAS a duplicate writes nothing: the next event on
	// the marker is the test's own.
	plain := New(other, ks, Options{Shards: 1, DedupeWindow: time.Minute})
	res, err = plain.Enqueue(ctx, resend)
	require.NoError(t, err)
	require.True(t, res.Duplicate)
	require.NoError(t, mc.Persist(ctx, ks.Shard(0).Seen(2)).Err())
	require.Equal(t, "persist", nextWrite(t, marker, "the test's PERSIST"))
}
