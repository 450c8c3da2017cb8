package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// TestDeadLetteredCallbackIsAnsweredByTheMover: a callback_query whose
// deliveries all died with their instances (MAX_DELIVERIES reached, no
// handler ever finished) is dead-lettered by the instance that takes the
// shard over without dispatching it; that instance answers the query (the
// user's spinner stops) and logs SILENCE_WARNING. A real process.
func TestDeadLetteredCallbackIsAnsweredByTheMover(t *testing.T) {
	e := world.New(t, "", map[string]string{"MAX_DELIVERIES": "2"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Two instances took it and died before any ack.
	const chat, uid, query = 717171, 710001, "cbq-dead-1"
	q := queue.New(e.Redis, e.Keys, queue.Options{Shards: 1, DedupeWindow: time.Minute})
	env := queue.Envelope{CID: "0d0d0d01", UpdateID: uid, Type: "callback_query", ChatID: chat, UserID: chat,
		Payload: world.Callback(uid, chat, 5, "m:x", query), Ingest: "gone-0"}
	res, err := q.Enqueue(ctx, env)
	require.NoError(t, err)
	lease := e.Keys.Shard(0).Lease()
	require.NoError(t, e.Redis.HSet(ctx, lease, "holder", "gone-1", "token", 1).Err())
	_, _, err = q.ReadNew(ctx, 0, 1, "gone-1", 1)
	require.NoError(t, err)
	_, ok, err := q.Redeliver(ctx, 0, 1, "gone-2", res.ID)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, e.Redis.Del(ctx, lease).Err())

	in := e.Start(1, "mover")[0]
	require.NotNil(t, e.Active(10*time.Second, []*proctest.Instance{in}))
	_, ok = in.WaitLine(10*time.Second, func(l proctest.Line) bool { return l.Name() == "DEAD_LETTERED" && l.Int("update_id") == uid })
	require.True(t, ok, "dead-lettered")
	warn, ok := in.WaitLine(10*time.Second, func(l proctest.Line) bool { return l.Name() == "SILENCE_WARNING" && l.Int("update_id") == uid })
	require.True(t, ok, "SILENCE_WARNING from the instance that moved it")
	require.Equal(t, "0d0d0d01", warn.Str("cid"))
	require.True(t, e.Bot.WaitFor(10*time.Second, func(calls []fakebot.Call) bool {
		for _, c := range calls {
			if c.Method == "answerCallbackQuery" && c.Params["callback_query_id"] == query {
				return true
			}
		}
		return false
	}), "the query was answered")
	for _, l := range in.Lines() {
		if l.Int("update_id") == uid {
			require.NotEqual(t, "DISPATCH_START", l.Name(), "not dispatched")
		}
	}
}
