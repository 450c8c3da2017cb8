package lease

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// TestFiftyContendersRace: 50 goroutines, each with its own client and
// connection, race for a fresh lease; exactly one wins, and over several
// rounds every winner's token is unique and larger than the last.
func TestFiftyContendersRace(t *testing.T) {
	const contenders, rounds = 50, 5
	_, ks := realClient(t)
	url := redistest.URL(t)
	clients := make([]*redis.Client, contenders)
	for i := range clients {
		clients[i] = dial(t, url)
		require.NoError(t, clients[i].Ping(context.Background()).Err()) // connection open before the race
	}
	ctx := context.Background()
	k := ks.Shard(0)
	var last int64
	seen := map[int64]bool{}
	for round := 0; round < rounds; round++ {
		gate := make(chan struct{})
		results := make([]acquireResult, contenders)
		errs := make([]error, contenders)
		var wg sync.WaitGroup
		for i := range contenders {
			wg.Go(func() {
				<-gate
				results[i], errs[i] = acquireLease(ctx, clients[i], k, ownerOf(holderName(i)), 5*time.Second, 0)
			})
		}
		close(gate)
		wg.Wait()
		winner := -1
		for i, r := range results {
			require.NoError(t, errs[i])
			if r.Won {
				require.Equal(t, -1, winner, "round %d: two winners (%d and %d)", round, winner, i)
				winner = i
			}
		}
		require.NotEqual(t, -1, winner, "round %d: no winner", round)
		tok := results[winner].Token
		for i, r := range results {
			if i != winner {
				require.Equal(t, holderName(winner), r.Holder)
				require.Equal(t, tok, r.Token)
			}
		}
		require.False(t, seen[tok], "token %d handed out twice", tok)
		seen[tok] = true
		require.Greater(t, tok, last, "round %d", round)
		last = tok
		ok, err := releaseLease(ctx, clients[winner], ks, k, ownerOf(holderName(winner)), tok)
		require.NoError(t, err)
		require.True(t, ok)
	}
}

func holderName(i int) string { return "contender-" + string(rune('A'+i/26)) + string(rune('a'+i%26)) }

// TestFiftyManagersOneActive: 50 Managers with their own clients start at
// once on a fresh lease; exactly one becomes ACTIVE. When the ACTIVE one
// shuts down, exactly one other takes over with a larger token.
func TestFiftyManagersOneActive(t *testing.T) {
	const n = 50
	_, ks := realClient(t)
	url := redistest.URL(t)
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = newNode(t, holderName(i), dial(t, url), ks, Config{TTL: 2 * time.Second})
	}
	for _, nd := range nodes {
		nd.start(t)
	}
	active := func() []int {
		var out []int
		for i, nd := range nodes {
			if nd.m.Active() {
				out = append(out, i)
			}
		}
		return out
	}
	var last int64
	for round := 0; round < 3; round++ {
		eventually(t, 3*time.Second, "one ACTIVE", func() bool { return len(active()) == 1 })
		a := active()[0]
		tok := nodes[a].m.Status()[0].Token
		require.Greater(t, tok, last)
		last = tok
		// Stable: still exactly one over a few renew intervals.
		for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			require.Equal(t, []int{a}, active())
		}
		nodes[a].stop(t)
		nodes = append(nodes[:a], nodes[a+1:]...)
	}
}
