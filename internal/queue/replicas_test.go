package queue

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// replicate makes replica a replica of master and waits until the link is
// up (bounded).
func replicate(t *testing.T, master, replica *redistest.Server) {
	t.Helper()
	ctx := testCtx(t)
	mc := master.Client()
	// a full sync starts at once (the default waits 5 s for more replicas)
	require.NoError(t, mc.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err())
	require.NoError(t, replica.Client().Do(ctx, "REPLICAOF", "127.0.0.1", master.Port).Err())
	rc := replica.Client()
	require.Eventually(t, func() bool {
		info, err := mc.Info(ctx, "replication").Result()
		if err != nil || !strings.Contains(info, "connected_slaves:1") || !strings.Contains(info, "state=online") {
			return false
		}
		// and the replica has loaded the sync and follows the stream
		info, err = rc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	}, 10*time.Second, 20*time.Millisecond, "replica did not come online")
}

func TestEnqueueWaitsForReplicas(t *testing.T) {
	master, replica := redistest.NewServer(t, false), redistest.NewServer(t, false)
	replicate(t, master, replica)
	ctx := testCtx(t)
	ks := keys.New("wait")
	q := New(master.Client(), ks, Options{Shards: 1, DedupeWindow: time.Minute, WaitReplicas: 1,
		WaitTimeout: time.Second})
	// the confirmations get 10 s: a loaded machine can hold a replica's
	// answer past 1 s; the shortfall below is checked with q's 1 s
	patient := New(master.Client(), ks, Options{Shards: 1, DedupeWindow: time.Minute, WaitReplicas: 1,
		WaitTimeout: 10 * time.Second})

	res, err := patient.Enqueue(ctx, env(1, 10))
	require.NoError(t, err)
	require.NotEmpty(t, res.ID)
	n, err := replica.Client().XLen(ctx, ks.Shard(0).Stream()).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "an append confirmed with WAIT 1 is on the replica")

	// without its replica the master still appends, but the append is not
	// confirmed: the webhook must answer 503 so Telegram resends. Redis
	// answered, so this is not ErrUnavailable: the result says the entry is
	// on the stream (it will be dispatched)
	replica.Kill()
	res, err = q.Enqueue(ctx, env(2, 10))
	require.True(t, errors.Is(err, ErrNotReplicated), "%v", err)
	require.False(t, errors.Is(err, ErrUnavailable), "%v", err)
	require.Equal(t, "queue: append not acknowledged by enough replicas: 0 of 1 within 1s", err.Error())
	require.NotEmpty(t, res.ID, "the entry is on the master's stream")

	// the resend, once the replica is back, is a duplicate confirmed by WAIT:
	// the earlier append reached the replica too
	replica.Start()
	replicate(t, master, replica)
	resend := env(2, 10)
	resend.CID = "00000002"
	res, err = patient.Enqueue(ctx, resend)
	require.NoError(t, err)
	require.True(t, res.Duplicate)
	require.Equal(t, env(2, 10).CID, res.OriginalCID)
	n, err = replica.Client().XLen(ctx, ks.Shard(0).Stream()).Result()
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
}

func TestEnqueueWaitsForReplicasOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cl := redistest.NewCluster(t, 3, 1)
	c := cl.Client()
	ctx := testCtx(t)
	// every WAIT here must confirm: 5 s, as a loaded machine can hold a
	// replica's answer (or the end of its first sync) past 500 ms
	q := New(c, keys.New("waitc"), Options{Shards: 6, DedupeWindow: time.Minute, WaitReplicas: 1,
		WaitTimeout: 5 * time.Second})
	for shard := 0; shard < 6; shard++ {
		e := env(int64(100+shard), int64(shard))
		e.Shard = shard
		res, err := q.Enqueue(ctx, e)
		require.NoError(t, err, "shard %d", shard)
		require.NotEmpty(t, res.ID)
	}
	// the batcher's round trip of a shard goes to its master, WAIT included
	b := NewBatcher(q, BatchOptions{})
	defer b.Close()
	for shard := 0; shard < 6; shard++ {
		e := env(int64(200+shard), int64(shard))
		e.Shard = shard
		res, err := b.Enqueue(ctx, e)
		require.NoError(t, err, "shard %d", shard)
		require.NotEmpty(t, res.ID)
	}
	// without WAIT the round trip is the cluster client's pipeline
	plain := NewBatcher(New(c, keys.New("waitc2"), Options{Shards: 6, DedupeWindow: time.Minute}), BatchOptions{})
	defer plain.Close()
	for shard := 0; shard < 6; shard++ {
		e := env(int64(300+shard), int64(shard))
		e.Shard = shard
		res, err := plain.Enqueue(ctx, e)
		require.NoError(t, err, "shard %d", shard)
		require.NotEmpty(t, res.ID)
	}
}
