package e2e

// The durable queue's acceptance (issue 5) with real processes: no loss
// across kill -9 of the ACTIVE instance under load, per-chat order, bounded
// duplicates, dedupe, dead letters, backpressure without an ACTIVE
// instance, and a Redis outage under load.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// ---- load ----

// load is a paced stream of EditedMessage updates (no handler takes them,
// so the Bot API limiter is not what is measured): update i has update_id
// FirstID+i, chat FirstChat+i%Chats, and is due at Begin + i/Rate.
type load struct {
	N, Chats, Rate     int
	FirstID, FirstChat int64
}

func (l load) id(i int) int64   { return l.FirstID + int64(i) }
func (l load) chat(i int) int64 { return l.FirstChat + int64(i%l.Chats) }

// post sends the load through d starting at begin and returns when every
// update was answered 200 or ctx ended. One chat's updates are posted one
// after another (the next once the previous was accepted), the way Telegram
// delivers one chat in order; chats run in parallel. The errors are the
// updates never accepted.
func (l load) post(ctx context.Context, d *world.Driver, begin time.Time) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for c := 0; c < l.Chats; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := c; i < l.N; i += l.Chats {
				due := begin.Add(time.Duration(i) * time.Second / time.Duration(l.Rate))
				if wait := time.Until(due); wait > 0 {
					time.Sleep(wait) // the load's pace, not a synchronisation
				}
				if err := d.Send(ctx, l.id(i), world.EditedMessage(l.id(i), l.chat(i))); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return // later updates of this chat would overtake it
				}
			}
		}(c)
	}
	wg.Wait()
	return errs
}

// sleepUntil waits for a moment of the test's script (a kill, an outage).
func sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

// ---- what the logs say ----

// started is one DISPATCH_START line.
type started struct {
	uid, chat, token int64
	inst, idx        int // instance (cluster order) and its line number
	ts               time.Time
}

// dispatchStarts returns every DISPATCH_START of the cluster in dispatch
// order: by fencing token (a term belongs to one instance and a later term
// has a larger token), then by the instance's own log order. With SIGKILL,
// SIGTERM and Redis outages no two terms of a shard overlap, so this order
// is the real one; a log timestamp alone has only millisecond precision.
func dispatchStarts(ins []*proctest.Instance) []started {
	var out []started
	for n, in := range ins {
		for i, l := range in.Lines() {
			if l.Name() != "DISPATCH_START" {
				continue
			}
			ts, _ := time.Parse(time.RFC3339Nano, l.Str("ts"))
			out = append(out, started{uid: l.Int("update_id"), chat: l.Int("chat_id"), token: l.Int("token"),
				inst: n, idx: i, ts: ts})
		}
	}
	sort.Slice(out, func(a, b int) bool {
		x, y := out[a], out[b]
		if x.token != y.token {
			return x.token < y.token
		}
		if x.inst != y.inst {
			return x.inst < y.inst
		}
		return x.idx < y.idx
	})
	return out
}

// orderCheck is the per-chat order of the dispatches.
type orderCheck struct {
	starts     int             // DISPATCH_START lines
	distinct   int             // distinct update_ids started
	redelivery map[int64]int   // update_id -> starts after its first
	byTerm     map[int64]int64 // token -> starts in that term
	violations []string
}

// duplicates is the number of redeliveries: starts of an update_id that
// had already started.
func (o orderCheck) duplicates() int { return o.starts - o.distinct }

// checkOrder checks, for every chat, that
//   - the FIRST starts of its update_ids are in increasing update_id order
//     (a redelivery is a DISPATCH_START of an update_id already started
//     before, in this term or an earlier one), and
//   - within one term (one fencing token) its starts never go back to a
//     lower update_id: a redelivery taken over from a predecessor comes
//     before the chat's newer updates.
func checkOrder(starts []started) orderCheck {
	o := orderCheck{starts: len(starts), redelivery: map[int64]int{}, byTerm: map[int64]int64{}}
	seen := map[int64]bool{}
	lastFirst := map[int64]int64{}     // chat -> last first-started update_id
	lastInTerm := map[[2]int64]int64{} // (chat, token) -> last started update_id
	for _, s := range starts {
		o.byTerm[s.token]++
		if seen[s.uid] {
			o.redelivery[s.uid]++
		} else {
			seen[s.uid] = true
			if prev, ok := lastFirst[s.chat]; ok && s.uid < prev {
				o.violations = append(o.violations, fmt.Sprintf("chat %d: update %d first started after %d", s.chat, s.uid, prev))
			}
			lastFirst[s.chat] = s.uid
		}
		k := [2]int64{s.chat, s.token}
		if prev, ok := lastInTerm[k]; ok && s.uid < prev {
			o.violations = append(o.violations, fmt.Sprintf("chat %d, token %d: update %d started after %d", s.chat, s.token, s.uid, prev))
		}
		lastInTerm[k] = s.uid
	}
	o.distinct = len(seen)
	return o
}

// requireDuplicatesBounded checks that redeliveries only come from terms
// that ended (a lease handed over, lost or stepped down), each leaving at
// most WORKERS (16, the default) updates in hand.
func requireDuplicatesBounded(t *testing.T, o orderCheck) {
	t.Helper()
	require.LessOrEqual(t, o.duplicates(), 16*(len(o.byTerm)-1), "duplicate dispatches over %d terms", len(o.byTerm))
}

// uidsNamed returns the update_ids of lines named name, with their counts.
func uidsNamed(lines []proctest.Line, name string) map[int64]int {
	out := map[int64]int{}
	for _, l := range lines {
		if l.Name() == name {
			out[l.Int("update_id")]++
		}
	}
	return out
}

// requireAllOK waits until every update in want has a DISPATCH_OK in the
// cluster's logs and fails with the missing ones otherwise.
func requireAllOK(t *testing.T, e *world.World, want map[int64]string, timeout time.Duration) map[int64]int {
	t.Helper()
	var ok map[int64]int
	var missing []int64
	proctest.Eventually(timeout, 100*time.Millisecond, func() bool {
		ok = uidsNamed(e.Cluster.Lines(), "DISPATCH_OK")
		missing = missing[:0]
		for id := range want {
			if ok[id] == 0 {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0
	})
	sort.Slice(missing, func(a, b int) bool { return missing[a] < missing[b] })
	if len(missing) > 10 {
		missing = missing[:10]
	}
	require.Empty(t, missing, "updates answered 200 without a DISPATCH_OK (first 10)")
	return ok
}

// requireDrained waits until shard 0's stream holds no entry and nothing
// is pending in group "dispatch", and returns how long that took.
func requireDrained(t *testing.T, e *world.World, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var length, pending int64
	var err error
	drained := proctest.Eventually(timeout, 50*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		length, pending, err = e.Backlog(ctx, 0)
		return err == nil && length == 0 && pending == 0
	})
	require.True(t, drained, "%s: XLEN %d, XPENDING %d (%v) after %s", e.Keys.Shard(0).Stream(), length, pending, err, timeout)
	return time.Since(start)
}

// ---- kill -9 under load ----

// kill is one kill -9 of the ACTIVE instance and what it had in hand.
type kill struct {
	id      string
	token   int64
	at      time.Time
	pending map[int64]bool // update_ids pending under its consumer right after the kill
	picked  map[int64]bool // of those, the ones it had picked (QUEUE_PICK): started or about to
	logHand int            // QUEUE_PICK without DISPATCH_OK in its log
	exact   bool           // the lease still named its token after pending was read
}

// killActive kills in with SIGKILL and reads from Redis what it left
// pending, before a successor can claim it (that takes the rest of the
// lease, at least a second with LEASE_TTL=2s and renewals every TTL/3).
func killActive(t *testing.T, e *world.World, in *proctest.Instance) kill {
	t.Helper()
	r, ok := in.Ready()
	require.True(t, ok)
	k := kill{id: in.ID, token: r.Shards["0"].Token, pending: map[int64]bool{}, picked: map[int64]bool{}}
	in.Signal(syscall.SIGKILL)
	k.at = time.Now()
	_, exited := in.Wait(5 * time.Second)
	require.True(t, exited, "%s survived kill -9", in.ID)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream := e.Keys.Shard(0).Stream()
	p, err := e.Redis.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: keys.Group,
		Start: "-", End: "+", Count: 100000, Consumer: in.ID}).Result()
	require.NoError(t, err)
	for _, pe := range p {
		msgs, err := e.Redis.XRange(ctx, stream, pe.ID, pe.ID).Result()
		require.NoError(t, err)
		require.Len(t, msgs, 1, "pending entry %s not in the stream", pe.ID)
		uid, err := strconv.ParseInt(fmt.Sprint(msgs[0].Values["uid"]), 10, 64)
		require.NoError(t, err)
		k.pending[uid] = true
	}
	// no successor can have claimed anything while the lease still names
	// the killed term (on a loaded machine it may have lost it already)
	held, err := e.Redis.HGet(ctx, e.Keys.Shard(0).Lease(), "token").Result()
	k.exact = err == nil && held == strconv.FormatInt(k.token, 10)
	lines := in.Lines()
	picks, oks := uidsNamed(lines, "QUEUE_PICK"), uidsNamed(lines, "DISPATCH_OK")
	for uid := range picks {
		if oks[uid] == 0 {
			k.logHand++
		}
		if k.pending[uid] {
			k.picked[uid] = true
		}
	}
	return k
}

// causes accounts for the redeliveries of a run.
type causes struct {
	atKills     int           // of an update in hand at a kill
	unplanned   map[int64]int // token of a term that ended without a kill -> redeliveries it left
	unexplained []int64       // update_ids redelivered with neither cause
}

// explainRedeliveries finds, for every redelivery, the term that started the
// update before: a killed term must have had it in hand (picked, pending
// under its consumer at the kill); another ended term (a step-down, a lost
// lease, a kill whose snapshot came too late) counts as unplanned. A second
// start within one term needs a DISPATCH_FAIL in between (failed lists the
// update_ids that had one).
func explainRedeliveries(starts []started, kills []kill, failed map[int64]int) causes {
	c := causes{unplanned: map[int64]int{}}
	byToken := map[int64]kill{}
	for _, k := range kills {
		byToken[k.token] = k
	}
	prev := map[int64]int64{} // update_id -> token of its last start
	for _, s := range starts {
		p, again := prev[s.uid]
		prev[s.uid] = s.token
		if !again {
			continue
		}
		k, killed := byToken[p]
		switch {
		case p == s.token:
			if failed[s.uid] == 0 {
				c.unexplained = append(c.unexplained, s.uid)
			}
		case killed && k.exact:
			if k.picked[s.uid] {
				c.atKills++
			} else {
				c.unexplained = append(c.unexplained, s.uid)
			}
		default:
			c.unplanned[p]++
		}
	}
	return c
}

// logHistory logs, for a failure's diagnosis, every line about one update
// and every lease event, in each instance's order.
func logHistory(t *testing.T, ins []*proctest.Instance, uid int64) {
	t.Helper()
	for _, in := range ins {
		for _, l := range in.Lines() {
			if l.Int("update_id") == uid || strings.HasPrefix(l.Name(), "LEASE_") || l.Name() == "REDIS_ERROR" {
				b, _ := json.Marshal(l)
				t.Logf("%s %s", in.ID, b)
			}
		}
	}
}

func without(ins []*proctest.Instance, x *proctest.Instance) []*proctest.Instance {
	var out []*proctest.Instance
	for _, in := range ins {
		if in != x {
			out = append(out, in)
		}
	}
	return out
}

// TestQueueLossKill9ActiveTwiceUnderLoad: three instances, 5,000 updates
// over 300 chats posted round-robin to all three at 500 per second, the
// ACTIVE instance killed with kill -9 at 3 s and 6.5 s and each time
// replaced by a fresh instance (new INSTANCE_ID), so three stay up. Every
// update answered 200 is dispatched (DISPATCH_OK), each chat in update_id
// order except for redeliveries, and every redelivery is of an update the
// killed instance had in hand.
//
// Each dispatch takes 20 ms (DISPATCHER_FAULTS=sleep=20ms: a handler's
// work; 16 workers give 800 per second), so the kills land while the ACTIVE
// instance has updates in hand. With no handler time an update is in hand
// for well under a millisecond and a kill almost never finds one.
func TestQueueLossKill9ActiveTwiceUnderLoad(t *testing.T) {
	e := world.New(t, "", map[string]string{"DISPATCHER_FAULTS": "sleep=20ms"})
	ins := e.Start(3, "loss")
	require.NotNil(t, e.Active(5*time.Second, ins))
	l := load{N: 5000, Chats: 300, Rate: 500, FirstID: 3_000_000, FirstChat: 7_000_000}

	live := append([]*proctest.Instance(nil), ins...)
	d := world.NewDriver(live)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	begin := time.Now()
	posted := make(chan []error, 1)
	go func() { posted <- l.post(ctx, d, begin) }()

	var kills []kill
	for n, at := range []time.Duration{3 * time.Second, 6500 * time.Millisecond} {
		sleepUntil(begin.Add(at))
		leader := e.Active(5*time.Second, live)
		require.NotNil(t, leader, "no ACTIVE instance before kill %d", n+1)
		live = without(live, leader)
		d.SetTargets(live)
		kills = append(kills, killActive(t, e, leader))
		repl := e.Cluster.Start(fmt.Sprintf("loss-%d", 3+n), nil)
		repl.WaitReady(20 * time.Second)
		live = append(live, repl)
		d.SetTargets(live)
	}
	errs := <-posted
	postedIn := time.Since(begin)
	require.Empty(t, errs, "updates never accepted")
	accepted := d.Accepted()
	require.Len(t, accepted, l.N)

	drain := requireDrained(t, e, 60*time.Second)
	oks := requireAllOK(t, e, accepted, 15*time.Second)
	dlq, err := e.Redis.XLen(context.Background(), e.Keys.Shard(0).DLQ()).Result()
	require.NoError(t, err)
	require.Zero(t, dlq, "dead letters")

	all := e.Cluster.Instances()
	starts := dispatchStarts(all)
	o := checkOrder(starts)
	require.Empty(t, o.violations, "per-chat order")
	require.Equal(t, l.N, o.distinct, "every update started")

	// every redelivery is of an update a killed instance had picked and not
	// acknowledged (an update can be in hand at both kills), or one left in
	// hand by a term that ended without a kill: on a loaded machine a leader
	// can miss its renewals and step down (at most WORKERS in hand then)
	c := explainRedeliveries(starts, kills, nil)
	if len(c.unexplained) > 0 {
		logHistory(t, all, c.unexplained[0])
	}
	require.Empty(t, c.unexplained, "redeliveries not of an update in hand at a handover")
	for token, n := range c.unplanned {
		require.LessOrEqual(t, n, 16, "term %d left %d updates to redeliver, more than WORKERS", token, n)
	}
	inHand, inHandPending, inHandLog := 0, 0, 0
	for _, k := range kills {
		inHand += len(k.picked)
		inHandPending += len(k.pending)
		inHandLog += k.logHand
	}
	require.LessOrEqual(t, c.atKills, inHand)

	dupOK := 0
	for _, n := range oks {
		dupOK += n - 1
	}
	maxWait := int64(0)
	for _, ln := range world.LinesNamed(e.Cluster.Lines(), "QUEUE_PICK") {
		if w := ln.Int("wait_ms"); w > maxWait {
			maxWait = w
		}
	}
	t.Logf("loss test: %d updates over %d chats posted in %s (%d resends, answers %v); drained %s after the last 200",
		l.N, l.Chats, postedIn.Round(time.Millisecond), d.Answers()[0]+d.Answers()[503], d.Answers(), drain.Round(time.Millisecond))
	for n, k := range kills {
		takeover := time.Duration(-1)
		for _, s := range starts {
			if s.token > k.token {
				takeover = s.ts.Sub(k.at)
				break
			}
		}
		t.Logf("kill %d: %s (token %d) at %s: in hand %d picked and unacknowledged (%d pending under its consumer; %d QUEUE_PICK without DISPATCH_OK in its log); next dispatch under a new token %s after the kill",
			n+1, k.id, k.token, k.at.Sub(begin).Round(time.Millisecond), len(k.picked), len(k.pending), k.logHand, takeover.Round(time.Millisecond))
	}
	t.Logf("dispatches: %d DISPATCH_START for %d updates: %d duplicate dispatches (%d duplicate DISPATCH_OK): %d of an update in hand at a kill (in hand: %d picked and unacknowledged, %d pending, %d by the log definition), %d left by %d terms that ended without a kill; %d terms; max wait_ms %d",
		o.starts, o.distinct, o.duplicates(), dupOK, c.atKills, inHand, inHandPending, inHandLog, o.duplicates()-c.atKills, len(c.unplanned), len(o.byTerm), maxWait)
	for _, ln := range e.Cluster.Lines() {
		if n := ln.Name(); n == "LEASE_LOST" || n == "LEASE_RENEW_FAILED" || n == "LEASE_RELEASED" {
			t.Logf("%s %s %s token %d", ln.Str("ts"), ln.Str("instance"), n, ln.Int("token"))
		}
	}
}

// ---- one update three times ----

// TestQueueSameUpdatePostedThreeTimes posts one update to each of three
// instances: one QUEUE_ENQUEUE, two DUPLICATE_UPDATE, every answer 200,
// one dispatch.
func TestQueueSameUpdatePostedThreeTimes(t *testing.T) {
	e := world.New(t, "", nil)
	ins := e.Start(3, "dup")
	require.NotNil(t, e.Active(5*time.Second, ins))
	const uid, chat = 5_000_001, 50_001
	body := world.EditedMessage(uid, chat)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, in := range ins {
		code, resp, err := in.Post(ctx, "/webhook", body)
		require.NoError(t, err)
		require.Equal(t, 200, code, "%s: %s", in.ID, resp)
	}
	requireAllOK(t, e, map[int64]string{uid: ""}, 10*time.Second)
	requireDrained(t, e, 10*time.Second)

	count := func() map[string]int {
		out := map[string]int{}
		for _, l := range e.Cluster.Lines() {
			if l.Int("update_id") == uid {
				out[l.Name()]++
			}
		}
		return out
	}
	proctest.Eventually(5*time.Second, 50*time.Millisecond, func() bool { return count()["DUPLICATE_UPDATE"] >= 2 })
	n := count()
	require.Equal(t, 1, n["QUEUE_ENQUEUE"], "%v", n)
	require.Equal(t, 2, n["DUPLICATE_UPDATE"], "%v", n)
	require.Equal(t, 1, n["QUEUE_PICK"], "%v", n)
	require.Equal(t, 1, n["DISPATCH_START"], "%v", n)
	require.Equal(t, 1, n["DISPATCH_OK"], "%v", n)
	t.Logf("update %d posted to %s, %s, %s: %v", uid, ins[0].ID, ins[1].ID, ins[2].ID, n)
}

// ---- a poison update ----

// TestQueuePoisonUpdateIsDeadLettered: the handler always panics on one
// update. It is delivered exactly MAX_DELIVERIES times (retry backoff 1 s,
// 2 s), then dead-lettered with its payload, and the chat's next update,
// which waited behind it, is dispatched.
func TestQueuePoisonUpdateIsDeadLettered(t *testing.T) {
	const maxDeliveries = 3
	const poison, next, chat = 6_000_001, 6_000_002, 60_001
	e := world.New(t, "", map[string]string{"DISPATCHER_FAULTS": "panic=" + strconv.Itoa(poison),
		"MAX_DELIVERIES": strconv.Itoa(maxDeliveries)})
	ins := e.Start(2, "poison")
	require.NotNil(t, e.Active(5*time.Second, ins))
	d := world.NewDriver(ins)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := world.EditedMessage(poison, chat)
	require.NoError(t, d.Send(ctx, poison, body))
	require.NoError(t, d.Send(ctx, next, world.EditedMessage(next, chat)))

	requireAllOK(t, e, map[int64]string{next: ""}, 20*time.Second)
	requireDrained(t, e, 10*time.Second)

	var picks, fails, dead []proctest.Line
	var nextStart proctest.Line
	for _, l := range e.Cluster.Lines() {
		switch {
		case l.Int("update_id") == next && l.Name() == "DISPATCH_START":
			nextStart = l
		case l.Int("update_id") != poison:
		case l.Name() == "QUEUE_PICK":
			picks = append(picks, l)
		case l.Name() == "DISPATCH_FAIL":
			fails = append(fails, l)
		case l.Name() == "DEAD_LETTERED":
			dead = append(dead, l)
		}
	}
	require.Len(t, picks, maxDeliveries, "deliveries of the poison update")
	for i, p := range picks {
		require.EqualValues(t, i+1, p.Int("delivery"))
	}
	require.Len(t, fails, maxDeliveries)
	for _, f := range fails {
		require.Equal(t, "HANDLER_PANIC", f.Str("error_type"))
	}
	require.Len(t, dead, 1)
	require.Equal(t, "MAX_DELIVERIES", dead[0].Str("reason_code"))
	require.EqualValues(t, maxDeliveries, dead[0].Int("delivery"))
	require.NotNil(t, nextStart)
	require.LessOrEqual(t, dead[0].Str("ts"), nextStart.Str("ts"), "the chat's next update started before the poison one was dead-lettered")
	require.Empty(t, checkOrder(dispatchStarts(e.Cluster.Instances())).violations)

	letters, err := e.Redis.XRange(ctx, e.Keys.Shard(0).DLQ(), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, letters, 1)
	require.Equal(t, strconv.Itoa(poison), letters[0].Values["uid"])
	require.Equal(t, string(body), letters[0].Values["payload"])
	require.Equal(t, "MAX_DELIVERIES", letters[0].Values["reason"])

	first, _ := time.Parse(time.RFC3339Nano, picks[0].Str("ts"))
	end, _ := time.Parse(time.RFC3339Nano, dead[0].Str("ts"))
	t.Logf("poison update %d: %d deliveries (HANDLER_PANIC), DEAD_LETTERED %s after the first; update %d then dispatched",
		poison, len(picks), end.Sub(first).Round(time.Millisecond), next)
}

// ---- backpressure ----

// TestQueueBacklogFullWithoutActive: MAX_BACKLOG=100 and the lease held by
// a ghost, so no instance is ACTIVE. 100 updates are accepted, the next
// ones get 503; once the ghost is gone an instance takes over, drains the
// shard, the refused updates are accepted on Telegram's resend, and all
// are dispatched once.
func TestQueueBacklogFullWithoutActive(t *testing.T) {
	const backlog, extra, chats = 100, 10, 10
	e := world.New(t, "", map[string]string{"MAX_BACKLOG": strconv.Itoa(backlog)})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leaseKey := e.Keys.Shard(0).Lease()
	require.NoError(t, e.Redis.HSet(ctx, leaseKey, "holder", "ghost", "token", "1").Err())
	require.NoError(t, e.Redis.PExpire(ctx, leaseKey, 5*time.Minute).Err())

	ins := e.Start(2, "backlog")
	for _, in := range ins {
		r, _ := in.Ready()
		require.Equal(t, "PASSIVE", r.Role, "%s", in.ID)
	}
	l := load{N: backlog + extra, Chats: chats, FirstID: 7_000_000, FirstChat: 70_000}
	for i := 0; i < backlog; i++ {
		code, resp, err := ins[i%2].Post(ctx, "/webhook", world.EditedMessage(l.id(i), l.chat(i)))
		require.NoError(t, err)
		require.Equal(t, 200, code, "update %d: %s", i, resp)
	}
	for i := backlog; i < l.N; i++ {
		code, resp, err := ins[i%2].Post(ctx, "/webhook", world.EditedMessage(l.id(i), l.chat(i)))
		require.NoError(t, err)
		require.Equal(t, 503, code, "update %d past MAX_BACKLOG: %s", i, resp)
	}
	length, _, err := e.Backlog(ctx, 0)
	require.NoError(t, err)
	require.EqualValues(t, backlog, length)
	require.True(t, proctest.Eventually(5*time.Second, 50*time.Millisecond, func() bool {
		n := 0
		for _, ln := range world.LinesNamed(e.Cluster.Lines(), "WEBHOOK_REJECTED") {
			if ln.Str("reason_code") == "BACKLOG_FULL" {
				n++
			}
		}
		return n == extra
	}), "one WEBHOOK_REJECTED BACKLOG_FULL per refused update")
	require.Empty(t, world.LinesNamed(e.Cluster.Lines(), "DISPATCH_START"), "dispatched with no ACTIVE instance")

	// the ghost leaves; Telegram resends what was refused
	require.NoError(t, e.Redis.Del(ctx, leaseKey).Err())
	released := time.Now()
	d := world.NewDriver(ins)
	var wg sync.WaitGroup
	errs := make(chan error, extra)
	for i := backlog; i < l.N; i++ {
		wg.Add(1)
		go func(i int) { defer wg.Done(); errs <- d.Send(ctx, l.id(i), world.EditedMessage(l.id(i), l.chat(i))) }(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	acceptedAfter := time.Since(released)
	drain := requireDrained(t, e, 20*time.Second)

	want := map[int64]string{}
	for i := 0; i < l.N; i++ {
		want[l.id(i)] = ""
	}
	oks := requireAllOK(t, e, want, 10*time.Second)
	o := checkOrder(dispatchStarts(e.Cluster.Instances()))
	require.Empty(t, o.violations)
	require.Equal(t, l.N, o.distinct)
	requireDuplicatesBounded(t, o)
	t.Logf("MAX_BACKLOG=%d, no ACTIVE: %d accepted, %d refused with 503; ghost lease deleted: the %d refused accepted %s later (driver answers %v), stream drained %s after that; %d DISPATCH_OK, %d duplicates, %d terms",
		backlog, backlog, extra, extra, acceptedAfter.Round(time.Millisecond), d.Answers(), drain.Round(time.Millisecond), len(oks), o.duplicates(), len(o.byTerm))
}

// ---- a Redis outage ----

// TestQueueRedisStoppedUnderLoad stops a dedicated redis-server (AOF,
// appendfsync always) for 5 s while two instances take 100 updates per
// second, each dispatch taking 50 ms (so the outage finds updates in hand
// and acks to retry): the webhook answers 503 meanwhile, workers back off (REDIS_ERROR
// at most about once a second per component) and resume, no process exits,
// and every update answered 200 is dispatched, each chat in order.
func TestQueueRedisStoppedUnderLoad(t *testing.T) {
	srv := redistest.NewServer(t, true)
	e := world.New(t, srv.URL(), map[string]string{"DISPATCHER_FAULTS": "sleep=50ms"})
	ins := e.Start(2, "outage")
	require.NotNil(t, e.Active(5*time.Second, ins))
	l := load{N: 1000, Chats: 40, Rate: 100, FirstID: 8_000_000, FirstChat: 80_000}
	d := world.NewDriver(ins)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	begin := time.Now()
	posted := make(chan []error, 1)
	go func() { posted <- l.post(ctx, d, begin) }()

	sleepUntil(begin.Add(2 * time.Second))
	srv.Stop()
	stopped := time.Now()
	sleepUntil(stopped.Add(5 * time.Second))
	srv.Start()
	restarted := time.Now()
	errs := <-posted
	require.Empty(t, errs, "updates never accepted")
	accepted := d.Accepted()
	require.Len(t, accepted, l.N)
	drain := requireDrained(t, e, 30*time.Second)
	oks := requireAllOK(t, e, accepted, 10*time.Second)
	dupOK := 0
	for _, n := range oks {
		dupOK += n - 1
	}

	for _, in := range ins {
		require.False(t, in.Exited(), "%s exited: %s", in.ID, in.Output())
	}
	require.Positive(t, d.Answers()[503], "no 503 while Redis was down: %v", d.Answers())

	lines := e.Cluster.Lines()
	during := func(l proctest.Line) bool {
		ts, _ := time.Parse(time.RFC3339Nano, l.Str("ts"))
		return !ts.Before(stopped.Add(-time.Second)) && !ts.After(restarted.Add(time.Second))
	}
	unavailable, redisErrors, backoffs, failures := 0, map[string]int{}, map[string][]proctest.Line{}, map[string]int{}
	var resumed time.Time
	for _, ln := range lines {
		switch ln.Name() {
		case "WEBHOOK_REJECTED":
			if ln.Str("reason_code") == "REDIS_UNAVAILABLE" && during(ln) {
				unavailable++
			}
		case "DISPATCH_FAIL":
			failures[ln.Str("error_type")]++
		case "REDIS_ERROR":
			redisErrors[ln.Str("instance")]++
			if strings.HasPrefix(ln.Str("msg"), "redis call failed; backing off") {
				backoffs[ln.Str("instance")] = append(backoffs[ln.Str("instance")], ln)
			}
		case "DISPATCH_OK":
			if ts, _ := time.Parse(time.RFC3339Nano, ln.Str("ts")); ts.After(restarted) && (resumed.IsZero() || ts.Before(resumed)) {
				resumed = ts
			}
		}
	}
	require.Positive(t, unavailable, "WEBHOOK_REJECTED REDIS_UNAVAILABLE during the outage")
	require.False(t, resumed.IsZero(), "dispatching resumed after Redis came back")
	for id, n := range redisErrors {
		// a handful of components, each logging at most about once a
		// second, not once per failed attempt
		require.Less(t, n, 100, "%s logged REDIS_ERROR %d times in a 5 s outage", id, n)
	}
	workerLogs := 0
	for id, ls := range backoffs {
		workerLogs += len(ls)
		for i := 1; i < len(ls); i++ {
			a, _ := time.Parse(time.RFC3339Nano, ls[i-1].Str("ts"))
			b, _ := time.Parse(time.RFC3339Nano, ls[i].Str("ts"))
			require.GreaterOrEqual(t, b.Sub(a), 990*time.Millisecond, "%s: worker REDIS_ERROR more than once a second", id)
		}
	}
	o := checkOrder(dispatchStarts(e.Cluster.Instances()))
	require.Empty(t, o.violations)
	require.Equal(t, l.N, o.distinct)
	requireDuplicatesBounded(t, o)
	t.Logf("redis stopped %s for %s under %d updates/s: answers %v, %d WEBHOOK_REJECTED REDIS_UNAVAILABLE, REDIS_ERROR lines per instance %v (%d from the workers' backoff); first DISPATCH_OK %s after Redis was back; all %d accepted updates dispatched (%d duplicate dispatches, %d of them after a DISPATCH_OK whose ack Redis never took; %d terms; DISPATCH_FAIL by error_type %v), drained %s after the last 200; no process exited",
		stopped.Sub(begin).Round(time.Millisecond), restarted.Sub(stopped).Round(time.Millisecond), l.Rate, d.Answers(),
		unavailable, redisErrors, workerLogs, resumed.Sub(restarted).Round(time.Millisecond), len(accepted), o.duplicates(), dupOK, len(o.byTerm), failures, drain.Round(time.Millisecond))
}
