package membership

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// statusOf builds a Manager status holding the given shards.
func statusOf(shards int, held ...int) func() map[int]lease.ShardStatus {
	return func() map[int]lease.ShardStatus {
		st := map[int]lease.ShardStatus{}
		for n := 0; n < shards; n++ {
			st[n] = lease.ShardStatus{Role: telemetry.RolePassive}
		}
		for _, n := range held {
			st[n] = lease.ShardStatus{Role: telemetry.RoleActive, Token: int64(100 + n)}
		}
		return st
	}
}

func TestBalanceWantRule(t *testing.T) {
	cases := []struct {
		name   string
		shards int
		live   int
		held   []int
		want   map[int]bool
	}{
		{"one shard: always", 1, 3, nil, map[int]bool{0: true}},
		{"alone: every shard", 6, 1, []int{0, 1, 2, 3, 4, 5}, map[int]bool{0: true, 5: true}},
		{"second joined: keep the three lowest", 6, 2, []int{0, 1, 2, 3, 4, 5},
			map[int]bool{0: true, 1: true, 2: true, 3: false, 4: false, 5: false}},
		{"under quota: want free shards", 6, 2, []int{4}, map[int]bool{0: true, 4: true, 5: true}},
		{"at quota: want no more", 6, 3, []int{1, 4}, map[int]bool{0: false, 1: true, 4: true, 5: false}},
		{"ceil: 6 on 4 is 2 each", 6, 4, []int{0, 2, 3}, map[int]bool{0: true, 2: true, 3: false, 5: false}},
		{"more instances than shards", 2, 5, []int{0, 1}, map[int]bool{0: true, 1: false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBalancer(nil, keys.New("x"), "me", tc.shards, time.Second, telemetry.Nop())
			b.live = nil
			for i := 0; i < tc.live; i++ {
				b.live = append(b.live, fmt.Sprintf("i%d", i))
			}
			b.track(statusOf(tc.shards, tc.held...), nil)
			for shard, want := range tc.want {
				require.Equal(t, want, b.Want(shard), "shard %d", shard)
			}
		})
	}
}

func TestBalanceMembership(t *testing.T) {
	c, ks := realClient(t)
	const ttl = time.Second
	every, life, _ := BalanceTimings(ttl)
	require.Equal(t, 100*time.Millisecond, every)
	require.Equal(t, 500*time.Millisecond, life)

	ctx := context.Background()
	a := NewBalancer(c, ks, "a", 6, ttl, telemetry.Nop())
	b := NewBalancer(c, ks, "b", 6, ttl, telemetry.Nop())
	crashed := NewBalancer(c, ks, "c", 6, ttl, telemetry.Nop())
	require.NoError(t, a.Join(ctx))
	require.Equal(t, []string{"a"}, a.Live())
	require.Equal(t, 6, a.Quota())
	require.NoError(t, crashed.Join(ctx)) // joins once, then never beats again
	joined := time.Now()
	stopB := runBalancer(t, b)
	stopA := runBalancer(t, a)
	eventually(t, 2*time.Second, "a sees a, b and c", func() bool { return slices.Equal(a.Live(), []string{"a", "b", "c"}) })
	require.Equal(t, 2, a.Quota())

	// the crashed one drops out once its entry expires
	eventually(t, 2*time.Second, "c expires", func() bool { return slices.Equal(a.Live(), []string{"a", "b"}) })
	require.GreaterOrEqual(t, time.Since(joined), life, "not before its entry's life")
	require.Equal(t, 3, a.Quota())

	// a clean stop removes the entry at once
	stopB()
	left := time.Now()
	eventually(t, 2*time.Second, "b leaves", func() bool { return slices.Equal(a.Live(), []string{"a"}) })
	require.Less(t, time.Since(left), life, "gone before its entry would have expired")
	stopA()
	n, err := c.ZCard(ctx, ks.Members()).Result()
	require.NoError(t, err)
	require.Zero(t, n, "the set is empty once every instance left")
}

func runBalancer(t *testing.T, b *Balancer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("balancer did not stop")
		}
	}
	t.Cleanup(stop)
	return stop
}

// balanced is a Manager with its Balancer.
type balanced struct {
	*node
	b      *Balancer
	stopB  func()
	client *redis.Client
}

func newBalanced(t *testing.T, id string, ks keys.Space, shards int, ttl time.Duration) *balanced {
	t.Helper()
	c := dial(t, redistest.URL(t))
	b := NewBalancer(c, ks, id, shards, ttl, telemetry.Nop())
	n := newNode(t, id, c, ks, lease.Config{TTL: ttl, Shards: shards, Want: b.Want})
	b.Track(n.m)
	require.NoError(t, b.Join(context.Background()))
	stop := runBalancer(t, b)
	n.start(t)
	return &balanced{node: n, b: b, stopB: stop, client: c}
}

// heldBy returns the shards each node is ACTIVE for.
func heldBy(nodes ...*balanced) map[string][]int {
	out := map[string][]int{}
	for _, n := range nodes {
		for s, st := range n.m.Status() {
			if st.Role == telemetry.RoleActive {
				out[n.id] = append(out[n.id], s)
			}
		}
		slices.Sort(out[n.id])
	}
	return out
}

// split reports whether the nodes together hold every shard once and each
// holds exactly per shards.
func split(shards, per int, nodes ...*balanced) bool {
	seen := map[int]bool{}
	for _, held := range heldBy(nodes...) {
		if len(held) != per {
			return false
		}
		for _, s := range held {
			if seen[s] {
				return false
			}
			seen[s] = true
		}
	}
	return len(seen) == shards
}

// TestBalanceSixShardsAcrossInstances: one instance takes all six shards;
// a second and a third join and the shards move by release and acquire to
// 3/3 and then 2/2/2; a crashed instance's shards are taken over within
// TTL + 1s; a clean stop hands its shards over at once.
func TestBalanceSixShardsAcrossInstances(t *testing.T) {
	_, ks := realClient(t)
	const shards, ttl = 6, time.Second
	a := newBalanced(t, "a", ks, shards, ttl)
	eventually(t, 3*time.Second, "a holds all six", func() bool { return split(shards, 6, a) })

	b := newBalanced(t, "b", ks, shards, ttl)
	eventually(t, 3*time.Second, "3/3", func() bool { return split(shards, 3, a, b) })
	c := newBalanced(t, "c", ks, shards, ttl)
	eventually(t, 3*time.Second, "2/2/2", func() bool { return split(shards, 2, a, b, c) })
	// a release is logged when its script's answer is back, which can be
	// after the taker, woken by its publish, shows the shard held
	released := func() int {
		return len(a.log.events(string(telemetry.EvLeaseReleased))) + len(b.log.events(string(telemetry.EvLeaseReleased)))
	}
	eventually(t, 3*time.Second, "a gave 3 to b, then a and b one each to c, all by release", func() bool { return released() >= 5 })
	require.Equal(t, 5, released())
	lost := len(a.log.events(string(telemetry.EvLeaseLost))) + len(b.log.events(string(telemetry.EvLeaseLost)))
	require.Zero(t, lost)
	t.Logf("after joins: %v", heldBy(a, b, c))

	// c crashes: its client goes away, so it can neither renew, release
	// nor beat; its leases expire and a and b take them over
	crashedHeld := heldBy(c)["c"]
	require.NoError(t, c.client.Close())
	crashed := time.Now()
	eventually(t, ttl+time.Second, "c's shards taken over within TTL + 1s", func() bool {
		held := heldBy(a, b)
		all := append(slices.Clone(held["a"]), held["b"]...)
		for _, s := range crashedHeld {
			if !slices.Contains(all, s) {
				return false
			}
		}
		return true
	})
	took := time.Since(crashed)
	eventually(t, 3*time.Second, "3/3 again", func() bool { return split(shards, 3, a, b) })
	t.Logf("crash of c (held %v): taken over after %s (TTL %s); now %v", crashedHeld, took.Round(time.Millisecond), ttl, heldBy(a, b))

	// b stops cleanly, leaving the balance first as the server does: a
	// takes its shards by release, well before a TTL
	b.stopB()
	b.stop(t)
	stopped := time.Now()
	eventually(t, ttl/2, "a holds all six again", func() bool { return split(shards, 6, a) })
	t.Logf("clean stop of b: a holds all six after %s", time.Since(stopped).Round(time.Millisecond))
}
