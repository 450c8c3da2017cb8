package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/tcpproxy"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// The delivery invariants under faults (issue 13), with real processes.

// TestTwinInstanceExitsAndNeverTakesTheLease: an instance paused past its
// heartbeat and lease is replaced by a new process under the same
// INSTANCE_ID; when it wakes it finds its id taken, stops dispatching and
// exits 1 with a line that says why, and never takes the new process's
// lease (which keeps its token throughout).
func TestTwinInstanceExitsAndNeverTakesTheLease(t *testing.T) {
	e := world.New(t, "", nil)
	old := e.Start(1, "twin")[0]
	require.NotNil(t, e.Active(5*time.Second, []*proctest.Instance{old}))
	old.Signal(syscall.SIGSTOP)
	ctx := context.Background()
	require.True(t, proctest.Eventually(10*time.Second, 50*time.Millisecond, func() bool {
		n, err := e.Redis.Exists(ctx, e.Keys.Instance(old.ID), e.Keys.Shard(0).Lease()).Result()
		return err == nil && n == 0
	}), "the paused instance's heartbeat and lease expire")

	twin := e.Cluster.Start(old.ID, nil)
	twin.WaitReady(20 * time.Second)
	require.NotNil(t, e.Active(5*time.Second, []*proctest.Instance{twin}), "the new process takes the lease")
	r, _ := twin.Ready()
	token := r.Shards["0"].Token

	old.Signal(syscall.SIGCONT)
	code, exited := old.Wait(15 * time.Second)
	require.True(t, exited, "the woken twin exits")
	require.Equal(t, 1, code, "a runtime failure, not bad configuration: %s", old.Output())
	var why string
	for _, line := range strings.Split(old.Output(), "\n") {
		if strings.HasPrefix(line, "dispatcher:") {
			why = line
		}
	}
	require.Contains(t, why, "INSTANCE_ID "+old.ID+" is now used by another live process", "one line says why")

	// the new process kept its lease and token all along
	require.Never(t, func() bool {
		r, ok := twin.Ready()
		return !ok || r.Shards["0"].Role != "ACTIVE" || r.Shards["0"].Token != token
	}, 2*time.Second, 50*time.Millisecond, "the new process stays ACTIVE with its token: the twin never took the lease")
	for _, l := range twin.Lines() {
		require.NotEqual(t, "LEASE_LOST", l.Name(), "the new process never lost its lease: %v", l)
	}
	for _, l := range old.Lines() {
		if l.Name() == "LEASE_ACQUIRED" {
			require.Less(t, l.Int("token"), token, "the woken twin acquired nothing after the new process: %v", l)
		}
	}
}

// TestShardCountIsRecordedAndAnotherCountExits2: the first instance records
// SHARDS in Redis; one started with another count exits 2 naming SHARDS and
// both values; `status` shows the recorded count and a non-empty stream
// outside it; `status` and `dlq list` read the recorded count whatever
// SHARDS they run with, and say so when none is recorded yet.
func TestShardCountIsRecordedAndAnotherCountExits2(t *testing.T) {
	const poison = 730001
	e := world.New(t, "", map[string]string{"SHARDS": "2", "MAX_DELIVERIES": "1"})
	out, _, code := e.CLIEnv(map[string]string{"SHARDS": ""}, "status")
	require.Equal(t, 0, code)
	require.Contains(t, out, "no shard count recorded in Redis for namespace "+e.NS, "a fresh namespace says so")

	q := queue.New(e.Redis, e.Keys, queue.Options{Shards: 2})
	chat := int64(5000)
	for q.ShardOf("edited_message", chat, chat, poison) != 1 {
		chat++
	}
	first := e.Cluster.Start("shards-a", map[string]string{"DISPATCHER_FAULTS": fmt.Sprintf("fail=%d", poison)})
	first.WaitReady(20 * time.Second)
	n, err := e.Redis.Get(context.Background(), e.Keys.Shards()).Int()
	require.NoError(t, err)
	require.Equal(t, 2, n, "the first instance records its SHARDS")

	other := e.Cluster.Start("shards-b", map[string]string{"SHARDS": "3"})
	code, exited := other.Wait(15 * time.Second)
	require.True(t, exited, "an instance with another SHARDS does not run")
	require.Equal(t, 2, code, other.Output())
	require.Regexp(t, `SHARDS: this instance has 3, but namespace \S+ records 2`, other.Output())

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, world.NewDriver([]*proctest.Instance{first}).Send(ctx, poison, world.EditedMessage(poison, chat)))
	_, dead := first.WaitLine(15*time.Second, func(l proctest.Line) bool { return l.Name() == "DEAD_LETTERED" })
	require.True(t, dead)
	// an update in a stream no instance reads (as a lowered SHARDS leaves them)
	require.NoError(t, e.Redis.XAdd(ctx, &redis.XAddArgs{Stream: e.Keys.Shard(5).Stream(), Values: []string{"k", "v"}}).Err())

	for _, shards := range []string{"1", "4", ""} {
		out, stderr, code := e.CLIEnv(map[string]string{"SHARDS": shards}, "status", "--json")
		require.Equal(t, 0, code, stderr)
		var st struct {
			ShardCount int `json:"shard_count"`
			Shards     []struct {
				Shard int `json:"shard"`
			} `json:"shards"`
			Outside []struct {
				Shard  int   `json:"shard"`
				Length int64 `json:"stream_length"`
			} `json:"streams_outside_shard_count"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &st), out)
		require.Equal(t, 2, st.ShardCount, "SHARDS=%q", shards)
		require.Len(t, st.Shards, 2, "status lists the recorded shards whatever its own SHARDS (%q)", shards)
		require.Len(t, st.Outside, 1)
		require.Equal(t, 5, st.Outside[0].Shard)
		require.EqualValues(t, 1, st.Outside[0].Length)

		out, stderr, code = e.CLIEnv(map[string]string{"SHARDS": shards}, "dlq", "list", "--json")
		require.Equal(t, 0, code, stderr)
		var dl []deadLetter
		require.NoError(t, json.Unmarshal([]byte(out), &dl), out)
		require.Len(t, dl, 1, "dlq list finds the dead letter of shard 1 with SHARDS=%q", shards)
		require.Equal(t, "1/", dl[0].ID[:2])
	}
	table, _, _ := e.CLIEnv(map[string]string{"SHARDS": "1"}, "status")
	require.Contains(t, table, "2 shard(s) (recorded in Redis)")
	require.Contains(t, table, "WARNING: shard 5 is outside the shard count")
	t.Logf("dispatcher status:\n%s", table)
}

// TestARunawayHandlerIsWaitedForBeforeItsRetry: a handler that ignores its
// context past HANDLER_TIMEOUT is reported at the deadline, but its retry
// starts only after it returned (within AbandonAfter = HANDLER_TIMEOUT):
// one handler per chat at a time. Before, the router stopped waiting at
// the deadline and the retry ran beside the first delivery.
func TestARunawayHandlerIsWaitedForBeforeItsRetry(t *testing.T) {
	const hang = 3600 * time.Millisecond // HANDLER_TIMEOUT < hang < 2 × HANDLER_TIMEOUT
	const id = 740001
	e := world.New(t, "", map[string]string{"DISPATCHER_FAULTS": "hang=" + hang.String(), "HANDLER_TIMEOUT": "2s",
		"MAX_DELIVERIES": "2"})
	in := e.Start(1, "runaway")[0]
	require.NotNil(t, e.Active(5*time.Second, []*proctest.Instance{in}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, world.NewDriver([]*proctest.Instance{in}).Send(ctx, id, world.StartMessage(id, 4711)))
	var starts []time.Time
	require.True(t, proctest.Eventually(20*time.Second, 50*time.Millisecond, func() bool {
		starts = starts[:0]
		for _, l := range world.LinesNamed(in.Lines(), "DISPATCH_START") {
			if l.Int("update_id") == id {
				starts = append(starts, lineTS(l))
			}
		}
		return len(starts) == 2
	}), "two deliveries")
	fail, ok := in.WaitLine(time.Second, func(l proctest.Line) bool { return l.Name() == "DISPATCH_FAIL" })
	require.True(t, ok)
	require.Equal(t, "HANDLER_TIMEOUT", fail.Str("error_type"))
	require.Less(t, lineTS(fail).Sub(starts[0]), hang, "the timeout is reported at the deadline")
	require.GreaterOrEqual(t, starts[1].Sub(starts[0]), hang, "the retry waited for the runaway first delivery")
}

// TestAStaleHandlerIsAbandonedBeforeTheSuccessorStarts: a leader cut off
// from Redis steps down while its handler ignores its context; within
// LEASE_TTL/6 it abandons the handler (DISPATCH_ABANDONED,
// HANDLER_ABANDONED), before the successor can win the lease and deliver
// the update again.
func TestAStaleHandlerIsAbandonedBeforeTheSuccessorStarts(t *testing.T) {
	const id = 740002
	e := world.New(t, "", nil)
	u, err := url.Parse(redistest.URL(t))
	require.NoError(t, err)
	px := tcpproxy.New(t, u.Host)
	leader := e.Cluster.Start("stale-a", map[string]string{"REDIS_URL": "redis://" + px.Addr(), "DISPATCHER_FAULTS": "hang=6s"})
	leader.WaitReady(20 * time.Second)
	require.NotNil(t, e.Active(5*time.Second, []*proctest.Instance{leader}))
	next := e.Start(1, "stale-b")[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, world.NewDriver([]*proctest.Instance{next}).Send(ctx, id, world.StartMessage(id, 4712)))
	_, ok := leader.WaitLine(10*time.Second, func(l proctest.Line) bool {
		return l.Name() == "DISPATCH_START" && l.Int("update_id") == id
	})
	require.True(t, ok, "the leader runs the handler")
	px.Stall()
	start, ok := next.WaitLine(15*time.Second, func(l proctest.Line) bool {
		return l.Name() == "DISPATCH_START" && l.Int("update_id") == id
	})
	require.True(t, ok, "the successor delivers the update again")
	ab, ok := leader.WaitLine(time.Second, func(l proctest.Line) bool {
		return l.Name() == "DISPATCH_ABANDONED" && l.Int("update_id") == id
	})
	require.True(t, ok, "the stale leader abandons its handler with a reason code")
	require.Equal(t, "HANDLER_ABANDONED", ab.Str("reason_code"))
	require.True(t, lineTS(ab).Before(lineTS(start)), "abandoned (%s) before the successor's start (%s)",
		ab.Str("ts"), start.Str("ts"))
	px.Restore()
}

func lineTS(l proctest.Line) time.Time {
	ts, _ := time.Parse(time.RFC3339Nano, l.Str("ts"))
	return ts
}

// debugMessage is the command /debug [args] from user in their chat.
func debugMessage(updateID, user int64, args string) []byte {
	text := "/debug"
	if args != "" {
		text += " " + args
	}
	return []byte(fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":1764300000,"text":%q,`+
		`"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"A"},`+
		`"entities":[{"type":"bot_command","offset":0,"length":6}]}}`, updateID, updateID, text, user, user))
}

// TestDebugIsRefusedOnAWebhookWithoutASecret: with INSECURE_WEBHOOK=true
// and no secret, a forged update in an admin's name could read any user's
// chains with /debug USER_ID: the startup warning says so, and /debug is
// refused (FORBIDDEN) unless ALLOW_INSECURE_ADMIN=true.
func TestDebugIsRefusedOnAWebhookWithoutASecret(t *testing.T) {
	const admin = 4242
	for i, allow := range []string{"", "true"} {
		e := world.New(t, "", map[string]string{"WEBHOOK_SECRET": "", "INSECURE_WEBHOOK": "true",
			"ADMIN_IDS": fmt.Sprint(admin), "ALLOW_INSECURE_ADMIN": allow})
		in := e.Start(1, "insecure")[0]
		warn, ok := in.WaitLine(time.Second, func(l proctest.Line) bool {
			return l.Name() == "SERVICE_STARTING" && strings.HasPrefix(l.Str("msg"), "INSECURE_WEBHOOK=true")
		})
		require.True(t, ok)
		require.NotNil(t, e.Active(5*time.Second, []*proctest.Instance{in}))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		id := int64(750001 + i)
		require.NoError(t, world.NewDriver([]*proctest.Instance{in}).Send(ctx, id, debugMessage(id, admin, "7")))
		cancel()
		_, done := in.WaitLine(10*time.Second, func(l proctest.Line) bool {
			return l.Int("update_id") == id && (l.Name() == "MESSAGE_REJECTED" || l.Name() == "DEBUG_PANEL_SHOWN")
		})
		require.True(t, done)
		var rejected, shown bool
		for _, l := range in.Lines() {
			if l.Int("update_id") != id {
				continue
			}
			rejected = rejected || (l.Name() == "MESSAGE_REJECTED" && l.Str("reason_code") == "FORBIDDEN")
			shown = shown || l.Name() == "DEBUG_PANEL_SHOWN"
		}
		if allow == "" {
			require.True(t, rejected, "/debug is refused on a webhook without a secret")
			require.False(t, shown)
			require.Contains(t, warn.Str("msg"), "/debug is refused (FORBIDDEN)")
		} else {
			require.True(t, shown, "ALLOW_INSECURE_ADMIN=true serves /debug")
			require.False(t, rejected)
		}
		require.Contains(t, warn.Str("msg"), "forged updates with any user's from.id (an admin's too)", "the warning says what is at stake")
		require.Contains(t, warn.Str("msg"), "/debug USER_ID")
	}
}

// TestConsumersDoNotPileUpAcrossRestarts: every restart under a new
// INSTANCE_ID (a pod name) adds a consumer to the shard's group; the
// instance that takes the shard removes those of gone instances with no
// pending entries, so the group stays small.
func TestConsumersDoNotPileUpAcrossRestarts(t *testing.T) {
	const restarts = 5
	e := world.New(t, "", nil)
	old := e.Start(1, "pod")[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := int64(760000)
	for i := 1; i <= restarts; i++ {
		next := e.Cluster.Start(fmt.Sprintf("pod-%d", i), nil)
		next.WaitReady(20 * time.Second)
		old.Signal(syscall.SIGTERM)
		code, ok := old.Wait(20 * time.Second)
		require.True(t, ok)
		require.Equal(t, 0, code)
		require.NotNil(t, e.Active(10*time.Second, []*proctest.Instance{next}))
		id++
		require.NoError(t, world.NewDriver([]*proctest.Instance{next}).Send(ctx, id, world.EditedMessage(id, 4713)))
		_, done := next.WaitLine(10*time.Second, func(l proctest.Line) bool { return l.Name() == "DISPATCH_OK" && l.Int("update_id") == id })
		require.True(t, done)
		old = next
	}
	// the taker removes them as it takes the shard; one that still looked
	// live then (its heartbeat key not yet gone on a loaded machine) goes at
	// the next sweep (every ReclaimIdle, 5 s)
	var names, seen []string
	require.True(t, proctest.Eventually(15*time.Second, 200*time.Millisecond, func() bool {
		cs, err := e.Redis.XInfoConsumers(ctx, e.Keys.Shard(0).Stream(), "dispatch").Result()
		require.NoError(t, err)
		names, seen = nil, nil
		for _, c := range cs {
			names = append(names, c.Name)
			seen = append(seen, fmt.Sprintf("%s (pending %d, idle %s, inactive %s)", c.Name, c.Pending, c.Idle, c.Inactive))
		}
		return len(names) <= 2
	}), "after %d restarts the group holds the live instance and at most its predecessor: %v", restarts, seen)
	require.Contains(t, names, old.ID)
}

// TestARollingRestartKeepsAChatBehindItsRetry: update A of a chat failed
// (the Bot API answers 500) and waits for its retry, update B of the same
// chat waits behind it; the leader gets SIGTERM. B must not be dispatched
// by the draining leader before A: both are left to the successor, which
// dispatches A, then B.
func TestARollingRestartKeepsAChatBehindItsRetry(t *testing.T) {
	const chat, a, b = 4714, 770001, 770002
	e := world.New(t, "", nil)
	ins := e.Start(2, "roll")
	leader := e.Active(5*time.Second, ins)
	require.NotNil(t, leader)
	e.Bot.SetFault(func(method string, n int) *fakebot.Fault {
		if method == "sendMessage" {
			return &fakebot.Fault{Status: 500, Description: "Internal Server Error"}
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := world.NewDriver(ins)
	require.NoError(t, d.Send(ctx, a, world.StartMessage(a, chat)))
	_, failed := leader.WaitLine(10*time.Second, func(l proctest.Line) bool { return l.Name() == "DISPATCH_FAIL" && l.Int("update_id") == a })
	require.True(t, failed, "A fails and waits for its retry")
	require.NoError(t, d.Send(ctx, b, world.EditedMessage(b, chat)))
	require.True(t, proctest.Eventually(5*time.Second, 10*time.Millisecond, func() bool {
		_, pending, err := e.Backlog(ctx, 0)
		return err == nil && pending == 2
	}), "B is in hand behind A")
	leader.Signal(syscall.SIGTERM)
	code, ok := leader.Wait(20 * time.Second)
	require.True(t, ok)
	require.Equal(t, 0, code)
	e.Bot.SetFault(nil)

	firstOK := func(id int64) (time.Time, string) {
		for _, l := range world.LinesNamed(e.Cluster.Lines(), "DISPATCH_OK") {
			if l.Int("update_id") == id {
				return lineTS(l), l.Str("instance")
			}
		}
		return time.Time{}, ""
	}
	require.True(t, proctest.Eventually(20*time.Second, 50*time.Millisecond, func() bool {
		ta, _ := firstOK(a)
		tb, _ := firstOK(b)
		return !ta.IsZero() && !tb.IsZero()
	}), "both dispatched")
	ta, _ := firstOK(a)
	tb, byB := firstOK(b)
	require.True(t, ta.Before(tb), "A (%s) before B (%s, by %s): the chat's order holds across the drain", ta, tb, byB)
	for _, l := range leader.Lines() {
		require.False(t, l.Name() == "DISPATCH_START" && l.Int("update_id") == b, "the draining leader did not start B")
	}
}
