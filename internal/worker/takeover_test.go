package worker

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// TestTakeoversUnderLoadLoseNothing is the library form of the loss test:
// three pools (instances) on one shard, updates appended while the leader is
// replaced twice without any chance to finish (its lease moves and its
// context ends at once, so its acks are refused, like after kill -9). Every
// update must be dispatched, each chat's first dispatches in update_id order,
// and duplicates bounded by what was in hand at the takeovers.
func TestTakeoversUnderLoadLoseNothing(t *testing.T) {
	const updates, chats, workers = 1200, 100, 8
	c, ns := redistest.Client(t)

	var mu sync.Mutex
	calls := map[int64]int{}      // update id -> dispatches
	firsts := map[int64][]int64{} // chat -> update ids at their first dispatch, in order
	handler := HandlerFunc(func(ctx context.Context, u *update.Update) error {
		time.Sleep(time.Duration(rand.IntN(800)) * time.Microsecond) // the work; ignores ctx
		uid, chat := u.UpdateID, u.Telego.Message.Chat.ID
		mu.Lock()
		calls[uid]++
		if calls[uid] == 1 {
			firsts[chat] = append(firsts[chat], uid)
		}
		mu.Unlock()
		return nil
	})

	pools := make([]*harness, 3)
	for i := range pools {
		pools[i] = newHarness(t, c, ns, 1, handler, func(cfg *Config) {
			cfg.Instance = []string{"i1", "i2", "i3"}[i]
			cfg.Workers = workers
		})
	}

	enqueued := make(chan struct{})
	go func() {
		defer close(enqueued)
		tick := time.NewTicker(500 * time.Microsecond) // paced appends, like webhook traffic
		defer tick.Stop()
		for i := int64(0); i < updates; i++ {
			<-tick.C
			uid, chat := 10_000+i, 1+i%chats
			e := queue.Envelope{CID: "00c0ffee", UpdateID: uid, Type: "message", ChatID: chat, UserID: chat,
				Payload: payload(uid, chat), Ingest: pools[i%3].cfg.Instance} // any instance ingests
			if _, err := pools[i%3].q.Enqueue(context.Background(), e); err != nil {
				t.Errorf("enqueue %d: %v", uid, err)
				return
			}
		}
	}()

	_, stop := pools[0].start(0, 1)
	inHandAtKills := 0
	for next := 1; next < 3; next++ {
		prev := pools[next-1]
		want := next * updates / 3
		prev.eventually("progress before the takeover", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(calls) >= want/2
		})
		// kill: the lease moves (acks refused), the old leader learns it at once
		inHandAtKills += prev.pool.InHand()
		pools[next].lease(0, int64(next+1))
		prev.leader.set(0, 0)
		stop()
		_, stop = pools[next].start(0, int64(next+1))
	}
	<-enqueued
	last := pools[2]
	last.eventually("everything dispatched and the stream empty", func() bool {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		return n == updates && last.drained(0)
	})

	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for uid := int64(10_000); uid < 10_000+updates; uid++ {
		require.GreaterOrEqual(t, calls[uid], 1, "update %d never dispatched", uid)
		dups += calls[uid] - 1
	}
	for chat, ids := range firsts {
		for i := 1; i < len(ids); i++ {
			require.Less(t, ids[i-1], ids[i], "chat %d dispatched out of order: %v", chat, ids)
		}
	}
	t.Logf("%d updates, %d duplicate dispatches, %d in hand at the two takeovers", updates, dups, inHandAtKills)
	require.LessOrEqual(t, dups, 2*workers, "duplicates are bounded by what was in hand")
	require.Zero(t, pools[0].log.count("DEAD_LETTERED", 0)+pools[1].log.count("DEAD_LETTERED", 0)+last.log.count("DEAD_LETTERED", 0))
}
