package opsweb

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/inspect"
	"github.com/dispatcher-bot/dispatcher/internal/membership"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// setLease makes holder the holder of shard's lease under token, as the
// lease manager would.
func (r *rig) setLease(shard int, holder string, token int64) {
	r.t.Helper()
	ctx := r.t.Context()
	k := r.ks.Shard(shard).Lease()
	require.NoError(r.t, r.c.HSet(ctx, k, "holder", holder, "token", token).Err())
	require.NoError(r.t, r.c.PExpire(ctx, k, 8*time.Second).Err())
}

// deadLetter enqueues an update on shard and dead-letters it under the
// lease token; it returns the page's id of the dead letter.
func (r *rig) deadLetter(shard int, token int64, updateID int64, errText string) string {
	r.t.Helper()
	ctx := r.t.Context()
	res, err := r.q.Enqueue(ctx, queue.Envelope{CID: "0badcafe", UpdateID: updateID, Type: "message", ChatID: 42,
		UserID: 42, Shard: shard, Payload: []byte(`{"update_id":1}`), Ingest: "node-b"})
	require.NoError(r.t, err)
	id, err := r.q.DeadLetter(ctx, shard, token, res.ID, queue.Failure{Reason: "MAX_DELIVERIES",
		ErrorType: "HANDLER_PANIC", Error: errText, Deliveries: 5, Instance: "node-b"})
	require.NoError(r.t, err)
	return strconv.Itoa(shard) + "/" + id
}

// TestOverviewShowsTheDeployment: instances with the role their leases
// give them, each shard's holder, token and TTL, the stream, and the dead
// letters, which replay and drop act on (logged with who did it).
func TestOverviewShowsTheDeployment(t *testing.T) {
	r := newRig(t, testToken, false)
	b := r.browser()
	page := b.login("alice")
	require.Contains(t, page, "No live instance")
	require.Equal(t, 2, strings.Count(page, "none: no ACTIVE instance"))
	require.Contains(t, page, `id="no-dead"`)
	require.Contains(t, page, `data-live-src="/ops?part=live"`)

	ctx := context.Background()
	reg := membership.NewRegistry(r.c, r.ks, "node-b", 10*time.Second, func() membership.InstanceInfo {
		return membership.InstanceInfo{ID: "node-b", Addr: "10.0.0.2:8080", Version: "v1.2.3", Started: time.Now()}
	}, telemetry.Nop())
	require.NoError(t, reg.Register(ctx))
	r.setLease(1, "node-b", 7)
	poison := r.deadLetter(1, 7, 9001, "<b>boom</b> near cid=deadbeef")
	other := r.deadLetter(1, 7, 9002, "boom")

	resp, live := b.get(Path + "?part=live")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, live, "<html", "a fragment")
	require.Contains(t, live, `data-id="node-b" data-role="ACTIVE"`)
	require.Contains(t, live, `<td data-label="ACTIVE instance" class="holder" data-holder="node-b">node-b</td><td data-label="token">7</td>`)
	require.Contains(t, live, `id="n-active">1/2<`)
	require.Contains(t, live, `id="n-dead">2<`)
	require.Contains(t, live, "v1.2.3")
	require.Contains(t, live, `data-id="`+poison+`"`)
	require.Contains(t, live, "&lt;b&gt;boom&lt;/b&gt;")
	require.Regexp(t, `<progress max="10000" value="[0-9]+" data-ms="[0-9]+">`, live)

	resp, _ = b.post(Path+"/dlq", live, url.Values{"op": {"replay"}, "id": {poison}, "cid": {"0badcafe"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc := resp.Header.Get("Location")
	require.Contains(t, loc, "done=replay")
	_, page = b.get(loc)
	require.Contains(t, page, "Replayed dead letter "+poison)
	require.Contains(t, page, `href="/ops/trace?cid=0badcafe"`)
	require.EqualValues(t, 1, r.c.XLen(ctx, r.ks.Shard(1).DLQ()).Val())
	require.EqualValues(t, 1, r.c.XLen(ctx, r.ks.Shard(1).Stream()).Val(), "back on its stream")
	require.Len(t, r.logs.Events(string(telemetry.EvDLQReplayed)), 1)

	resp, _ = b.post(Path+"/dlq", page, url.Values{"op": {"drop"}, "id": {other}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Zero(t, r.c.XLen(ctx, r.ks.Shard(1).DLQ()).Val())

	resp, page = b.post(Path+"/dlq", page, url.Values{"op": {"drop"}, "id": {other}})
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, page, "no dead letter "+other)
	resp, _ = b.post(Path+"/dlq", page, url.Values{"op": {"explode"}, "id": {other}})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = b.post(Path+"/dlq", page, url.Values{"op": {"drop"}, "id": {"7/1-1"}})
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no shard 7")

	acts := r.logs.Events(string(telemetry.EvOpsAction))
	require.Len(t, acts, 5) // login, replay, drop, the failed drops
	for i, want := range []struct {
		action, target string
		count          float64
		failed         bool
	}{{telemetry.OpsDLQReplay, poison, 1, false}, {telemetry.OpsDLQDrop, other, 1, false},
		{telemetry.OpsDLQDrop, other, 0, true}, {telemetry.OpsDLQDrop, "7/1-1", 0, true}} {
		a := acts[i+1]
		require.Equal(t, want.action, a[telemetry.FAction], "%v", a)
		require.Equal(t, "alice", a[telemetry.FOperator])
		require.Equal(t, want.target, a[telemetry.FTarget])
		require.Equal(t, want.count, a[telemetry.FCount])
		require.Equal(t, want.failed, a[telemetry.FError] != nil, "%v", a)
		require.Equal(t, "ADMIN", a[telemetry.FDomain])
	}
}

// TestTraceTimeline: a chain across two instances, in one lane each; a
// pause of GapAfter or more and the reason code stand out; a resend shows
// its original's chain.
func TestTraceTimeline(t *testing.T) {
	r := newRig(t, "", true)
	b := r.browser()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r.journal.add("a1b2c3d4", 42,
		ev("QUEUE_ENQUEUE", "node-a", t0, telemetry.FUpdateType, "callback_query", telemetry.FUserID, "42",
			telemetry.FUpdateID, "1003"),
		ev("QUEUE_PICK", "node-b", t0.Add(2*time.Millisecond)),
		ev("CALLBACK_REJECTED", "node-b", t0.Add(3*time.Second), telemetry.FLevel, "warn",
			telemetry.FReasonCode, "STATE_MISMATCH", telemetry.FReasonText, "Button expired, use /start",
			telemetry.FExpectedState, "MAIN_MENU", telemetry.FActualState, "MODEL_PICK"),
		ev("DISPATCH_OK", "node-b", t0.Add(3*time.Second+time.Millisecond), telemetry.FButtonIDs, []any{"a", "b"}))
	resp, page := b.get(Path + "/trace?cid=a1b2c3d4")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, `class="timeline lanes-2"`)
	require.Contains(t, page, `<span class="lane-head lane-0">node-a</span><span class="lane-head lane-1">node-b</span>`)
	require.Contains(t, page, `<li class="gap">3.0s without an event</li>`)
	require.Contains(t, page, `<li class="ev bad" data-name="CALLBACK_REJECTED" data-instance="node-b" data-reason="STATE_MISMATCH">`)
	require.Contains(t, page, `<span class="reason">STATE_MISMATCH</span>`)
	require.Contains(t, page, `<div class="kv why"><dt>expected_state</dt><dd>MAIN_MENU</dd></div>`)
	require.Contains(t, page, `<span class="outcome bad">CALLBACK_REJECTED STATE_MISMATCH</span>`)
	require.Contains(t, page, "<dd>a,b</dd>")
	require.Contains(t, page, `data-live-src="/ops/trace?cid=a1b2c3d4&amp;part=live"`, "it follows the chain")
	require.Less(t, strings.Index(page, "node-a</span> <span class=\"role"), strings.Index(page, "CALLBACK_REJECTED</b>"),
		"oldest first")

	r.journal.notes["a1b2c3d4"] = "3 events past the cap of 100"
	_, page = b.get(Path + "/trace?cid=a1b2c3d4")
	require.Contains(t, page, `<p class="note">Not kept: 3 events past the cap of 100</p>`, "what the journal did not keep")
	r.journal.add("5f3a9c1e", 42, ev("DUPLICATE_UPDATE", "node-a", t0.Add(time.Minute), telemetry.FOriginalCID, "a1b2c3d4"))
	_, page = b.get(Path + "/trace?cid=5f3a9c1e")
	require.Contains(t, page, "is a resend (DUPLICATE_UPDATE) of an update first ingested as cid")
	require.Equal(t, 2, strings.Count(page, `class="timeline`), "its own chain and the original's")
	require.Contains(t, page, "resend of a1b2c3d4: CALLBACK_REJECTED STATE_MISMATCH")

	r.journal.notes["0000ffff"] = "evicted after 3h by the journal budget"
	resp, page = b.get(Path + "/trace?cid=0000ffff")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, page, "No events for cid 0000ffff: evicted after 3h by the journal budget.")
	resp, _ = b.get(Path + "/trace?cid=NOTACID")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// TestUserPageAndDebugSwitch: a user's recent chains, newest first, and the
// switch of debug logging on every instance, logged with who used it.
func TestUserPageAndDebugSwitch(t *testing.T) {
	r := newRig(t, testToken, false)
	b := r.browser()
	b.login("alice")
	t0 := time.Now().Add(-time.Minute)
	r.journal.add("11111111", 42, ev("DISPATCH_OK", "node-a", t0, telemetry.FUpdateType, "message"))
	r.journal.add("22222222", 42, ev("CALLBACK_REJECTED", "node-b", t0.Add(time.Second),
		telemetry.FReasonCode, "STATE_MISMATCH", telemetry.FUpdateType, "callback_query"))
	resp, page := b.get(Path + "/user?id=42")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Less(t, strings.Index(page, `data-cid="22222222"`), strings.Index(page, `data-cid="11111111"`), "newest first")
	require.Contains(t, page, `data-cid="22222222" open>`, "the newest is open")
	require.Contains(t, page, "CALLBACK_REJECTED STATE_MISMATCH")
	require.Contains(t, page, "Debug logging off")

	resp, _ = b.post(Path+"/debug", page, url.Values{"mode": {"on"}, "user": {"42"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, Path+"/user?id=42&done=debug-on", resp.Header.Get("Location"))
	until, on, err := r.debug.Until(t.Context())
	require.NoError(t, err)
	require.True(t, on)
	require.WithinDuration(t, time.Now().Add(DebugSpan), until, 5*time.Second)
	require.Equal(t, DebugSpan, r.journal.debugSpan(42), "the journal keeps the user's chains in full")
	_, page = b.get(Path + "/user?id=42&done=debug-on")
	require.Contains(t, page, "Debug logging is on for 30m0s on every instance")
	require.Contains(t, page, "The journal keeps every chain of this user in full meanwhile.")
	require.Contains(t, page, `<b class="on">Debug logging on</b> until`)

	resp, _ = b.post(Path+"/debug", page, url.Values{"mode": {"off"}, "user": {"42"}})
	require.Equal(t, Path+"/user?id=42&done=debug-off", resp.Header.Get("Location"))
	require.Zero(t, r.journal.debugSpan(42), "the user's debug mode ends too")
	on, err = r.debugOn()
	require.NoError(t, err)
	require.False(t, on)
	acts := r.logs.Events(string(telemetry.EvOpsAction))
	require.Len(t, acts, 3)
	require.Equal(t, telemetry.OpsDebugOn, acts[1][telemetry.FAction])
	require.Equal(t, "30m0s, user 42's chains kept in full", acts[1][telemetry.FTarget])
	require.Equal(t, telemetry.OpsDebugOff, acts[2][telemetry.FAction])
	require.Equal(t, "off, user 42's chains no longer kept in full", acts[2][telemetry.FTarget])
	require.Equal(t, "alice", acts[2][telemetry.FOperator])

	resp, page = b.get(Path + "/user?id=7")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, "No chains of user 7")
	resp, _ = b.get(Path + "/user?id=-1")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// TestThroughputOverTheFetches: the rate is measured between fetches at
// least a second apart, whoever makes them.
func TestThroughputOverTheFetches(t *testing.T) {
	r := newRig(t, "", true)
	at := time.Unix(1000, 0)
	c := func(sec int, added, length int64) inspect.Counters {
		return inspect.Counters{At: at.Add(time.Duration(sec) * time.Second), Added: []int64{added, 0}, Length: []int64{length, 0}}
	}
	require.False(t, r.h.observe(c(0, 10, 10)).Known, "one sample: no rate yet")
	require.False(t, r.h.observe(c(0, 12, 10)).Known, "too close")
	rate := r.h.observe(c(2, 30, 14))
	require.True(t, rate.Known)
	require.InDelta(t, 10, rate.In, 0.001, "20 appended in 2 s")
	require.InDelta(t, 8, rate.Done, 0.001, "16 of them left the stream")
	require.Equal(t, rate, r.h.observe(c(2, 31, 14)), "kept until a second has passed")
}
