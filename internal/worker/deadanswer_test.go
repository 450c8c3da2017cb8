package worker

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/queue"
)

// A callback_query dead-lettered without a dispatch in this term (its
// earlier deliveries all crashed) is answered, with SILENCE_WARNING, by
// the instance that moved it: no handler ran, so no guard answered it, and
// the user's spinner would never stop.
func TestDeadLetteredCallbackWithoutDispatchIsAnswered(t *testing.T) {
	rec := &recorder{}
	var mu sync.Mutex
	var answered []string
	h := newRedisHarness(t, 1, rec, func(c *Config) {
		c.MaxDeliveries = 3
		c.AnswerCallback = func(ctx context.Context, id, text string) error {
			mu.Lock()
			defer mu.Unlock()
			answered = append(answered, id+"|"+text)
			return nil
		}
	})
	ctx := context.Background()
	body := []byte(`{"update_id":7,"callback_query":{"id":"cbq-77","from":{"id":4,"is_bot":false,"first_name":"A"},"chat_instance":"1","data":"m:x","message":{"message_id":3,"date":1764300000,"chat":{"id":4,"type":"private"}}}}`)
	e := queue.Envelope{CID: "00000007", UpdateID: 7, Type: "callback_query", ChatID: 4, UserID: 4, Payload: body, Ingest: "test"}
	e.Shard = h.q.ShardOf(e.Type, 4, 4, 7)
	res, err := h.q.Enqueue(ctx, e)
	require.NoError(t, err)
	// Three instances took it and died before any ack.
	h.lease(0, 1)
	_, _, err = h.q.ReadNew(ctx, 0, 1, "dead-1", 1)
	require.NoError(t, err)
	for _, c := range []string{"dead-2", "dead-3"} {
		_, ok, err := h.q.Redeliver(ctx, 0, 1, c, res.ID)
		require.NoError(t, err)
		require.True(t, ok)
	}
	h.start(0, 2)
	h.eventually("dead-lettered", func() bool { return h.log.count("DEAD_LETTERED", 7) == 1 && h.drained(0) })
	h.eventually("answered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(answered) == 1
	})
	require.Equal(t, []string{"cbq-77|"}, answered)
	require.Zero(t, rec.callCount(), "no dispatch")
	warn := h.log.events("SILENCE_WARNING")
	require.Len(t, warn, 1)
	require.Equal(t, "00000007", warn[0]["cid"])
	require.Contains(t, warn[0]["reason_text"], "dead-lettered (MAX_DELIVERIES) without a dispatch")
}
