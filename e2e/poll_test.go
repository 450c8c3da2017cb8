package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// pollWorld is a world whose instances ingest with INGEST=poll from the
// world's fake Bot API, with LEASE_TTL ttl.
func pollWorld(t *testing.T, ttl string) *world.World {
	return world.New(t, "", map[string]string{"INGEST": "poll", "POLL_TIMEOUT": "5s", "LEASE_TTL": ttl})
}

// queueClicks queues n clicks on an old menu as one getUpdates batch, over
// chats chats, and returns their update_ids. Each is refused as expired and
// answered (answerCallbackQuery, which no rate limit holds back); an edited
// message would not do: it is not among the allowed_updates.
func queueClicks(t *testing.T, e *world.World, first int64, n int, chats int64) []int64 {
	t.Helper()
	var bodies [][]byte
	for i := 0; i < n; i++ {
		id := first + int64(i)
		bodies = append(bodies, world.Callback(id, 9000+id%chats, 1, "v1:cat:image@old", fmt.Sprintf("cq-%d", id)))
	}
	ids, err := e.Bot.QueueAll(bodies...)
	require.NoError(t, err)
	return ids
}

// waitDispatched waits until every id has a DISPATCH_OK.
func waitDispatched(t *testing.T, e *world.World, ids []int64, timeout time.Duration) {
	t.Helper()
	missing := ids
	ok := proctest.Eventually(timeout, 50*time.Millisecond, func() bool {
		done := map[int64]bool{}
		for _, l := range world.LinesNamed(e.Cluster.Lines(), "DISPATCH_OK") {
			done[l.Int("update_id")] = true
		}
		missing = nil
		for _, id := range ids {
			if !done[id] {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0
	})
	require.True(t, ok, "not dispatched within %s: %v", timeout, missing)
}

// requireAppendedOnce checks that the streams got exactly n appends (every
// update once: entries-added counts what was acknowledged and deleted too).
func requireAppendedOnce(t *testing.T, e *world.World, n int) {
	t.Helper()
	got, err := e.Appends(context.Background(), 1)
	require.NoError(t, err)
	require.EqualValues(t, n, got, "appends to the streams: each update exactly once")
}

// requireChatOrder checks that each chat's updates first started in
// update_id order.
func requireChatOrder(t *testing.T, lines []proctest.Line, chats int64) {
	t.Helper()
	first := map[int64]time.Time{}
	for _, l := range world.LinesNamed(lines, "DISPATCH_START") {
		id := l.Int("update_id")
		ts, _ := time.Parse(time.RFC3339Nano, l.Str("ts"))
		if at, ok := first[id]; !ok || ts.Before(at) {
			first[id] = ts
		}
	}
	perChat := map[int64][]int64{}
	for id := range first {
		perChat[9000+id%chats] = append(perChat[9000+id%chats], id)
	}
	for chat, ids := range perChat {
		slices.Sort(ids)
		for i := 1; i < len(ids); i++ {
			require.False(t, first[ids[i]].Before(first[ids[i-1]]), "chat %d: update %d started before %d", chat, ids[i], ids[i-1])
		}
	}
}

func linesOf(in *proctest.Instance, name string, match func(proctest.Line) bool) []proctest.Line {
	var out []proctest.Line
	for _, l := range world.LinesNamed(in.Lines(), name) {
		if match == nil || match(l) {
			out = append(out, l)
		}
	}
	return out
}

func bySource(l proctest.Line) bool { return l.Str("source") == "poll" }

// TestPollOnePollerAcrossInstances: three INGEST=poll instances; exactly
// one holds the poll lease at any time; every instance answers the webhook
// path 404 and dispatches; each update is appended once, dispatched, in
// chat order; Telegram sees one getUpdates at a time. On SIGTERM of the
// poller another instance polls within a second and goes on from the
// stored offset.
func TestPollOnePollerAcrossInstances(t *testing.T) {
	// a TTL long enough that a loaded machine cannot make the poller step
	// down by itself: every handover here is the SIGTERM's
	e := pollWorld(t, "5s")
	ins := e.Start(3, "poll")
	poller, token := e.Poller(10*time.Second, ins)
	require.NotNil(t, poller, "no instance polls")
	for _, in := range ins {
		code, _, err := in.Post(context.Background(), "/webhook", world.EditedMessage(1, 1))
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, code, "%s: the webhook path in poll mode", in.ID)
	}

	var ids []int64
	for b := 0; b < 3; b++ {
		ids = append(ids, queueClicks(t, e, int64(800_000_001+50*b), 50, 5)...)
		require.LessOrEqual(t, world.Pollers(ins), 1, "never two pollers")
	}
	waitDispatched(t, e, ids, 30*time.Second)
	requireAppendedOnce(t, e, len(ids))
	require.Empty(t, world.LinesNamed(e.Cluster.Lines(), "DUPLICATE_UPDATE"))
	// another process may dispatch an update before the poller has logged
	// its append, and the poller stores the offset after the append: wait
	// for both (the offset is confirmed to Telegram only once stored)
	require.True(t, proctest.Eventually(5*time.Second, 20*time.Millisecond, func() bool {
		return len(linesOf(poller, "QUEUE_ENQUEUE", bySource)) >= len(ids) && e.Bot.Confirmed() == ids[len(ids)-1]+1
	}), "the poller logged every append and confirmed the offset")
	require.Len(t, linesOf(poller, "QUEUE_ENQUEUE", bySource), len(ids), "the poller ingested them all, source=poll")
	require.Zero(t, e.Bot.Conflicts(), "never two getUpdates at once")
	out, stderr, code := e.CLI("status")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, fmt.Sprintf("poll lease (INGEST=poll): %s polls (token %d", poller.ID, token))
	require.Contains(t, out, fmt.Sprintf("next getUpdates offset %d", ids[len(ids)-1]+1), "status: every update below the offset is on a stream")

	rest := slices.DeleteFunc(slices.Clone(ins), func(in *proctest.Instance) bool { return in == poller })
	sent := time.Now()
	poller.Signal(syscall.SIGTERM)
	next, nextToken := e.Poller(time.Second, rest)
	took := time.Since(sent)
	require.NotNil(t, next, "no poller within 1s of SIGTERM")
	require.Greater(t, nextToken, token)
	code, ok := poller.Wait(10 * time.Second)
	require.True(t, ok)
	require.Equal(t, 0, code)

	more := queueClicks(t, e, 800_001_001, 20, 5)
	waitDispatched(t, e, more, 20*time.Second)
	requireAppendedOnce(t, e, len(ids)+len(more))
	require.Empty(t, world.LinesNamed(e.Cluster.Lines(), "DUPLICATE_UPDATE"), "the successor resumed at the stored offset")
	requireChatOrder(t, e.Cluster.Lines(), 5)
	require.True(t, proctest.Eventually(5*time.Second, 20*time.Millisecond, func() bool { return e.Bot.Confirmed() == more[len(more)-1]+1 }),
		"the successor confirmed the offset after the last update (Telegram: %d)", e.Bot.Confirmed())
	t.Logf("%d updates through %s; SIGTERM: %s polls after %s (token %d → %d); %d more, each appended once",
		len(ids), poller.ID, next.ID, took.Round(time.Millisecond), token, nextToken, len(more))
}

// startStalledPoller starts an instance whose poller pauses 3 s after the
// first update of each batch (DISPATCHER_FAULTS pollstall=3s), waits until
// it holds the poll lease, then starts two more instances.
func startStalledPoller(t *testing.T, e *world.World) (stalled *proctest.Instance, token int64, others []*proctest.Instance) {
	t.Helper()
	stalled = e.Cluster.Start("stalled", map[string]string{"DISPATCHER_FAULTS": "pollstall=3s"})
	stalled.WaitReady(20 * time.Second)
	p, token := e.Poller(10*time.Second, []*proctest.Instance{stalled})
	require.NotNil(t, p)
	return stalled, token, e.Start(2, "other")
}

// firstAppend waits until in appended the first update of a batch, the
// moment its stall begins (mid-batch).
func firstAppend(t *testing.T, in *proctest.Instance) {
	t.Helper()
	_, ok := in.WaitLine(15*time.Second, func(l proctest.Line) bool { return l.Name() == "QUEUE_ENQUEUE" && bySource(l) })
	require.True(t, ok, "%s appended nothing", in.ID)
}

// TestPollKill9MidBatch: the poller is killed with SIGKILL after the first
// update of a batch is on the stream and before the rest. Another instance
// polls within LEASE_TTL + 1 s, fetches the batch again from the stored
// offset, drops the update already appended as a DUPLICATE_UPDATE and
// appends the rest: each update on the streams once, none lost.
func TestPollKill9MidBatch(t *testing.T) {
	e := pollWorld(t, "2s")
	stalled, token, others := startStalledPoller(t, e)
	ids := queueClicks(t, e, 800_100_001, 10, 3)
	firstAppend(t, stalled)

	killed := time.Now()
	stalled.Signal(syscall.SIGKILL)
	next, nextToken := e.Poller(4*time.Second, others)
	took := time.Since(killed)
	require.NotNil(t, next)
	require.Less(t, took, 2*time.Second+time.Second+200*time.Millisecond, "taken over within LEASE_TTL + 1 s (and the readyz poll)")
	require.Greater(t, nextToken, token)

	waitDispatched(t, e, ids, 30*time.Second)
	requireAppendedOnce(t, e, len(ids))
	dups := linesOf(next, "DUPLICATE_UPDATE", bySource)
	require.Len(t, dups, 1, "the one update appended before the kill comes back as a duplicate")
	require.Equal(t, ids[0], dups[0].Int("update_id"))
	requireChatOrder(t, e.Cluster.Lines(), 3)
	t.Logf("kill -9 of %s mid-batch: %s polls after %s; update %d was a duplicate, the other %d appended once",
		stalled.ID, next.ID, took.Round(time.Millisecond), ids[0], len(ids)-1)
}

// TestPollFrozenPollerIsFenced: the poller is paused with SIGSTOP mid-batch
// and stays paused past its TTL; another instance takes the poll lease,
// claims the streams and ingests the batch. Resumed with SIGCONT, the old
// poller goes on with its batch: its append is refused by the fence
// (POLL_STOPPED reason_code=FENCED), not by the dedupe, and nothing is on
// the streams twice.
func TestPollFrozenPollerIsFenced(t *testing.T) {
	e := pollWorld(t, "2s")
	stalled, token, others := startStalledPoller(t, e)
	ids := queueClicks(t, e, 800_200_001, 10, 3)
	firstAppend(t, stalled)

	stalled.Signal(syscall.SIGSTOP)
	next, nextToken := e.Poller(10*time.Second, others)
	require.NotNil(t, next, "no takeover while the poller was paused")
	require.Greater(t, nextToken, token)
	waitDispatched(t, e, ids, 30*time.Second)
	stalled.Signal(syscall.SIGCONT)

	stop, ok := stalled.WaitLine(15*time.Second, func(l proctest.Line) bool {
		return l.Name() == "POLL_STOPPED" && l.Str("reason_code") == "FENCED"
	})
	require.True(t, ok, "the resumed poller was not fenced")
	require.EqualValues(t, token, stop.Int("token"))
	require.Contains(t, stop.Str("reason_text"), "append refused", "its append, not only its offset, was refused")
	require.Len(t, linesOf(stalled, "QUEUE_ENQUEUE", bySource), 1, "no append of the resumed poller got through")
	require.Empty(t, linesOf(stalled, "DUPLICATE_UPDATE", nil), "the fence refused it, not the dedupe")
	requireAppendedOnce(t, e, len(ids))
	t.Logf("SIGSTOP of %s mid-batch; %s polled (token %d → %d); on SIGCONT: %s", stalled.ID, next.ID, token, nextToken,
		stop.Str("reason_text"))
}

// TestPollWebhookConflictThenDelete: with a webhook set, getUpdates is a
// 409: the poller logs WEBHOOK_CONFLICT saying to run `dispatcher webhook
// delete`, retries, and never deletes it itself; once the operator runs
// that command, the updates Telegram held come in.
func TestPollWebhookConflictThenDelete(t *testing.T) {
	e := pollWorld(t, "5s")
	require.NoError(t, e.SetWebhook())
	ins := e.Start(2, "hook")
	ids := queueClicks(t, e, 800_300_001, 5, 2)
	var conflict proctest.Line
	require.True(t, proctest.Eventually(15*time.Second, 50*time.Millisecond, func() bool {
		c := world.LinesNamed(e.Cluster.Lines(), "WEBHOOK_CONFLICT")
		if len(c) < 2 {
			return false
		}
		conflict = c[0]
		return true
	}), "no WEBHOOK_CONFLICT")
	require.Contains(t, conflict.Str("msg"), "dispatcher webhook delete")
	requireAppendedOnce(t, e, 0)
	for _, c := range e.Bot.Calls() {
		require.NotEqual(t, "deleteWebhook", c.Method, "the instances never delete the webhook")
	}

	out, stderr, code := e.CLI("webhook", "delete")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "webhook deleted")
	waitDispatched(t, e, ids, 40*time.Second)
	requireAppendedOnce(t, e, len(ids))
	t.Logf("%d WEBHOOK_CONFLICT on %d instances before `dispatcher webhook delete`; then %d updates in: %s",
		len(world.LinesNamed(e.Cluster.Lines(), "WEBHOOK_CONFLICT")), len(ins), len(ids),
		strings.TrimSpace(fmt.Sprint(conflict.Str("msg"))))
}
