package lease

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// realClient returns a client of the shared real redis-server that honours
// context deadlines, with a fresh namespace cleaned up at the end.
func realClient(t *testing.T) (*redis.Client, keys.Space) {
	t.Helper()
	_, ns := redistest.Client(t) // namespace and cleanup
	return dial(t, redistest.URL(t)), keys.New(ns)
}

// dial returns a client of url that honours context deadlines, closed at
// cleanup.
func dial(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	opt.ContextTimeoutEnabled = true
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestAcquireRenewReleaseScripts(t *testing.T) {
	c, ks := realClient(t)
	ctx := context.Background()
	k := ks.Shard(0)
	const ttl = 2 * time.Second

	before := time.Now().UnixMicro()
	a, err := acquireLease(ctx, c, k, ownerOf("a"), ttl, 0)
	require.NoError(t, err)
	require.True(t, a.Won)
	// A fresh shard's first token is Redis TIME in µs (same host clock).
	require.InDelta(t, float64(before), float64(a.Token), 5e6)

	b, err := acquireLease(ctx, c, k, ownerOf("b"), ttl, 0)
	require.NoError(t, err)
	require.False(t, b.Won)
	require.Equal(t, "a", b.Holder)
	require.Equal(t, a.Token, b.Token)
	require.Greater(t, b.TTL, time.Duration(0))
	require.LessOrEqual(t, b.TTL, ttl)

	info, err := Inspect(ctx, c, ks, 0)
	require.NoError(t, err)
	require.Equal(t, LeaseInfo{Shard: 0, Held: true, Holder: "a", Token: a.Token, TTL: info.TTL, LastToken: a.Token}, info)

	// Renewal needs both the holder and the token.
	r, err := renewLease(ctx, c, k, ownerOf("a"), a.Token+1, ttl)
	require.NoError(t, err)
	require.Equal(t, renewResult{Holder: "a", Token: a.Token}, r)
	r, err = renewLease(ctx, c, k, ownerOf("b"), a.Token, ttl)
	require.NoError(t, err)
	require.False(t, r.OK)
	r, err = renewLease(ctx, c, k, ownerOf("a"), a.Token, ttl)
	require.NoError(t, err)
	require.True(t, r.OK)

	// Release needs them too, and publishes the shard number.
	sub := c.Subscribe(ctx, ks.LeaseReleased())
	defer sub.Close()
	_, err = sub.Receive(ctx) // subscription confirmed
	require.NoError(t, err)
	ok, err := releaseLease(ctx, c, ks, k, ownerOf("a"), a.Token-1)
	require.NoError(t, err)
	require.False(t, ok)
	ok, err = releaseLease(ctx, c, ks, k, ownerOf("a"), a.Token)
	require.NoError(t, err)
	require.True(t, ok)
	msg, err := sub.ReceiveMessage(ctx)
	require.NoError(t, err)
	require.Equal(t, "0", msg.Payload)

	// A renewal never re-creates a lease that is gone.
	r, err = renewLease(ctx, c, k, ownerOf("a"), a.Token, ttl)
	require.NoError(t, err)
	require.Equal(t, renewResult{}, r)
	info, err = Inspect(ctx, c, ks, 0)
	require.NoError(t, err)
	require.False(t, info.Held)
	require.Equal(t, a.Token, info.LastToken)

	b, err = acquireLease(ctx, c, k, ownerOf("b"), ttl, 0)
	require.NoError(t, err)
	require.True(t, b.Won)
	require.Greater(t, b.Token, a.Token)
}

func TestAcquireBySameHolderGetsNewToken(t *testing.T) {
	c, ks := realClient(t)
	ctx := context.Background()
	a1, err := acquireLease(ctx, c, ks.Shard(0), ownerOf("a"), time.Second, 0)
	require.NoError(t, err)
	// The reply was lost, or the process restarted under the same id: the
	// same holder wins again at once, with a larger token.
	a2, err := acquireLease(ctx, c, ks.Shard(0), ownerOf("a"), time.Second, 0)
	require.NoError(t, err)
	require.True(t, a2.Won)
	require.Greater(t, a2.Token, a1.Token)
	r, err := renewLease(ctx, c, ks.Shard(0), ownerOf("a"), a1.Token, time.Second)
	require.NoError(t, err)
	require.False(t, r.OK, "the older token is no longer current")
}

func TestTokensSurviveDataLoss(t *testing.T) {
	c, ks := realClient(t)
	ctx := context.Background()
	k := ks.Shard(0)
	a, err := acquireLease(ctx, c, k, ownerOf("a"), time.Second, 0)
	require.NoError(t, err)

	// Redis forgets everything: the TIME term keeps the next token larger.
	require.NoError(t, c.Del(ctx, k.Lease(), k.Fence()).Err())
	b, err := acquireLease(ctx, c, k, ownerOf("b"), time.Second, 0)
	require.NoError(t, err)
	require.True(t, b.Won)
	require.Greater(t, b.Token, a.Token)

	// A counter that ran ahead of the clock (a burst of acquisitions), then a
	// data loss: TIME alone would go backwards; the caller's floor does not.
	ahead := time.Now().UnixMicro() + 10_000_000_000
	require.NoError(t, c.Set(ctx, k.Fence(), ahead, 0).Err())
	require.NoError(t, c.Del(ctx, k.Lease()).Err())
	x, err := acquireLease(ctx, c, k, ownerOf("a"), time.Second, 0)
	require.NoError(t, err)
	require.Equal(t, ahead+1, x.Token)
	require.NoError(t, c.Del(ctx, k.Lease(), k.Fence()).Err())
	y, err := acquireLease(ctx, c, k, ownerOf("b"), time.Second, 0)
	require.NoError(t, err)
	require.Less(t, y.Token, x.Token, "the documented limit: without a floor the token follows the clock")
	require.NoError(t, c.Del(ctx, k.Lease(), k.Fence()).Err())
	z, err := acquireLease(ctx, c, k, ownerOf("b"), time.Second, x.Token+1)
	require.NoError(t, err)
	require.Equal(t, x.Token+1, z.Token)
}

func TestFencedScriptRefusesStaleToken(t *testing.T) {
	c, ks := realClient(t)
	ctx := context.Background()
	k := ks.Shard(0)
	write := NewFencedScript(`return redis.call('SET', KEYS[2], ARGV[2])`)
	key := k.Tag() + "test-value"

	a, err := acquireLease(ctx, c, k, ownerOf("a"), time.Second, 0)
	require.NoError(t, err)
	require.NoError(t, write.Run(ctx, c, k, a.Token, []string{key}, "from-a").Err())

	require.NoError(t, c.Del(ctx, k.Lease()).Err()) // a's lease expired
	b, err := acquireLease(ctx, c, k, ownerOf("b"), time.Second, 0)
	require.NoError(t, err)
	err = MapFenced(write.Run(ctx, c, k, a.Token, []string{key}, "stale").Err())
	require.ErrorIs(t, err, ErrFenced)
	require.NoError(t, write.Run(ctx, c, k, b.Token, []string{key}, "from-b").Err())
	require.Equal(t, "from-b", c.Get(ctx, key).Val())

	// No lease at all: every token is refused.
	require.NoError(t, c.Del(ctx, k.Lease()).Err())
	require.True(t, errors.Is(MapFenced(write.Run(ctx, c, k, b.Token, []string{key}, "x").Err()), ErrFenced))
}

func TestInspectFreeShard(t *testing.T) {
	c, ks := realClient(t)
	info, err := Inspect(context.Background(), c, ks, 3)
	require.NoError(t, err)
	require.Equal(t, LeaseInfo{Shard: 3}, info)
}
