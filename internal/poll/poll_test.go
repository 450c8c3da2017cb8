package poll_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/poll"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
)

// TestEveryUpdateOnceInOrder: batches of getUpdates land on the streams
// once each, each chat's in update_id order, with QUEUE_ENQUEUE
// source=poll; the offset is stored in Redis and confirmed to Telegram, and
// a second poller started after the first stopped resumes there without
// appending anything again.
func TestEveryUpdateOnceInOrder(t *testing.T) {
	r := newRig(t, queue.Options{Shards: 3})
	_, stop := r.start("p1", nil)
	var want []int64
	for b := 0; b < 4; b++ {
		want = append(want, r.queueBatch(int64(1+25*b), 25, 7)...)
	}
	eventually(t, "every update on the streams", func() bool { return r.count() == len(want) })
	eventually(t, "the offset confirmed to Telegram", func() bool { return r.bot.Confirmed() == want[len(want)-1]+1 })
	require.EqualValues(t, want[len(want)-1]+1, r.storedOffset(), "the offset is in Redis")

	stop()
	more := r.queueBatch(101, 10, 7)
	r.start("p2", nil)
	eventually(t, "the successor's updates", func() bool { return r.count() == len(want)+len(more) })
	require.Empty(t, r.events("DUPLICATE_UPDATE"), "the successor resumed at the stored offset")

	var got []int64
	for _, ids := range r.streamed() {
		got = append(got, ids...)
		perChat := map[int64][]int64{}
		for _, id := range ids {
			perChat[100+id%7] = append(perChat[100+id%7], id)
		}
		for chat, seq := range perChat {
			require.True(t, slices.IsSorted(seq), "chat %d in order: %v", chat, seq)
		}
	}
	slices.Sort(got)
	require.Equal(t, append(want, more...), got, "each update once")
	// QUEUE_ENQUEUE is logged when the append's answer is back: after the
	// entry is on the stream, where the wait above saw it
	eventually(t, "every append logged", func() bool { return len(r.events("QUEUE_ENQUEUE")) >= len(got) })
	enq := r.events("QUEUE_ENQUEUE")
	require.Len(t, enq, len(got))
	for _, e := range enq {
		require.Equal(t, "poll", e["source"])
	}
	require.NotEmpty(t, r.events("POLL_BATCH"))
	var allowed []any
	for _, u := range telegram.AllowedUpdates() {
		allowed = append(allowed, u)
	}
	for _, c := range r.bot.CallsOf("getUpdates") {
		require.Equal(t, allowed, c.Params["allowed_updates"], "allowed_updates as webhook set has them")
	}
}

// TestBacklogFullHoldsTheOffset: with a shard at MAX_BACKLOG the batch stops
// at the refused update, the offset stays before it (Telegram keeps it),
// and the poller backs off; once the backlog drains the rest comes in.
func TestBacklogFullHoldsTheOffset(t *testing.T) {
	r := newRig(t, queue.Options{Shards: 1, MaxBacklog: 3})
	r.start("p1", nil)
	ids := r.queueBatch(1, 6, 2)
	eventually(t, "backoff on BACKLOG_FULL", func() bool {
		for _, e := range r.events("POLL_BACKOFF") {
			if e["reason_code"] == "BACKLOG_FULL" {
				return true
			}
		}
		return false
	})
	require.Equal(t, 3, r.count())
	require.EqualValues(t, 4, r.storedOffset(), "the offset stops before the refused update")
	require.LessOrEqual(t, r.bot.Confirmed(), int64(4), "Telegram was never told past it")
	require.GreaterOrEqual(t, r.bot.Pending(), 3, "Telegram keeps the refused updates")

	require.NoError(t, r.c.Del(context.Background(), r.ks.Shard(0).Stream()).Err()) // the backlog drains
	eventually(t, "the rest once the backlog drained", func() bool { return r.count() == 3 })
	eventually(t, "confirmed", func() bool { return r.bot.Confirmed() == ids[5]+1 })
	require.Equal(t, []int64{4, 5, 6}, r.streamed()[0])
}

// TestWebhookConflictIsReportedNotFixed: while a webhook is set getUpdates
// is a 409, logged WEBHOOK_CONFLICT (saying to run dispatcher webhook
// delete) and retried with backoff; the poller never deletes the webhook.
// Once the operator deletes it, polling goes on.
func TestWebhookConflictIsReportedNotFixed(t *testing.T) {
	r := newRig(t, queue.Options{})
	post(t, r.api.URL+"/botX/setWebhook", `{"url":"https://bot.example/webhook"}`)
	r.queueBatch(1, 3, 1)
	r.start("p1", nil)
	eventually(t, "two WEBHOOK_CONFLICT", func() bool { return len(r.events("WEBHOOK_CONFLICT")) >= 2 })
	c := r.events("WEBHOOK_CONFLICT")[0]
	require.Contains(t, c["msg"], "dispatcher webhook delete")
	require.Greater(t, c["backoff_ms"], float64(0))
	require.Zero(t, r.count())
	for _, call := range r.bot.Calls() {
		require.NotEqual(t, "deleteWebhook", call.Method, "the poller never deletes the webhook")
	}
	post(t, r.api.URL+"/botX/deleteWebhook", `{}`)
	eventually(t, "polling after the delete", func() bool { return r.count() == 3 })
}

// TestTelegramFailuresBackOff: 502s are retried with a growing backoff
// (POLL_BACKOFF with the status); a 429 waits its retry_after before the
// next getUpdates.
func TestTelegramFailuresBackOff(t *testing.T) {
	r := newRig(t, queue.Options{})
	r.bot.SetFault(func(method string, n int) *fakebot.Fault {
		switch {
		case method != "getUpdates":
			return nil
		case n <= 4:
			return &fakebot.Fault{Status: http.StatusBadGateway, Description: "Bad Gateway"}
		case n == 5:
			return &fakebot.Fault{Status: http.StatusTooManyRequests, RetryAfter: 1, Description: "Too Many Requests: retry after 1"}
		}
		return nil
	})
	r.queueBatch(1, 2, 1)
	r.start("p1", nil)
	eventually(t, "the updates after the failures", func() bool { return r.count() == 2 })
	var waits []float64
	var after429 float64
	for _, e := range r.events("POLL_BACKOFF") {
		require.Equal(t, "TELEGRAM_API_ERROR", e["reason_code"])
		require.Equal(t, "TELEGRAM", e["domain"])
		if e["status"] == float64(http.StatusBadGateway) {
			waits = append(waits, e["backoff_ms"].(float64))
		} else {
			require.Equal(t, float64(http.StatusTooManyRequests), e["status"])
			require.Equal(t, float64(1), e["retry_after"])
			after429 = e["backoff_ms"].(float64)
		}
	}
	require.Len(t, waits, 4)
	require.Less(t, waits[0], waits[3], "the backoff grows: %v", waits)
	require.GreaterOrEqual(t, after429, float64(1000), "a 429 waits its retry_after")
	var at []time.Time
	for _, c := range r.bot.Calls() {
		if c.Method == "getUpdates" {
			at = append(at, c.At)
		}
	}
	require.GreaterOrEqual(t, len(at), 6)
	require.GreaterOrEqual(t, at[5].Sub(at[4]), time.Second, "no getUpdates within retry_after of the 429")
}

// TestStalePollerIsFencedMidBatch: a poller whose successor claimed the
// streams while it was in the middle of a batch (here: held up by
// StallMidBatch; in production a pause past its TTL) is refused by the
// fence for the rest of the batch, stops with POLL_STOPPED
// reason_code=FENCED, and never stores its offset.
func TestStalePollerIsFencedMidBatch(t *testing.T) {
	r := newRig(t, queue.Options{Shards: 2})
	r.queueBatch(1, 4, 2)
	p, _ := r.start("stale", func(c *poll.Config) { c.StallMidBatch = 2 * time.Second })
	eventually(t, "the first append", func() bool { return r.count() == 1 })
	st := p.Status()
	require.Equal(t, "ACTIVE", st.Role)

	// a successor takes the poll lease with a larger token and claims the
	// streams, as a new poller does before its first getUpdates
	next := st.Token + 1
	ctx := context.Background()
	require.NoError(t, r.c.HSet(ctx, keys.New(r.ks.Namespace()).Poll().Shard(0).Lease(), "holder", "next", "token", next).Err())
	require.NoError(t, r.q.ClaimPollFence(ctx, next))

	eventually(t, "POLL_STOPPED FENCED", func() bool {
		for _, e := range r.events("POLL_STOPPED") {
			if e["reason_code"] == "FENCED" {
				return true
			}
		}
		return false
	})
	require.Equal(t, 1, r.count(), "the rest of the batch was refused")
	require.Zero(t, r.storedOffset(), "the stale poller stored no offset")
	require.Zero(t, r.bot.Confirmed(), "nor confirmed one")
	require.Empty(t, r.events("DUPLICATE_UPDATE"), "refused by the fence, not the dedupe")
}

// TestOnePollerAtATime: of two pollers only the holder of the poll lease
// calls getUpdates; when it stops, the other takes over at once and goes
// on from the stored offset.
func TestOnePollerAtATime(t *testing.T) {
	r := newRig(t, queue.Options{})
	a, stopA := r.start("a", nil)
	eventually(t, "a polls", func() bool { return a.Status().Role == "ACTIVE" })
	b, _ := r.start("b", nil)
	r.queueBatch(1, 5, 2)
	eventually(t, "the first batch", func() bool { return r.count() == 5 })
	require.Equal(t, "PASSIVE", b.Status().Role)
	require.Zero(t, r.bot.Conflicts(), "never two getUpdates at once")

	stopA()
	eventually(t, "b polls", func() bool { return b.Status().Role == "ACTIVE" })
	r.queueBatch(6, 5, 2)
	eventually(t, "the second batch", func() bool { return r.count() == 10 })
	require.Empty(t, r.events("DUPLICATE_UPDATE"))
	require.Len(t, r.events("POLL_STARTED"), 2)
}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", stringsReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
