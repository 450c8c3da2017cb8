package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// ev is a log line of inst at t0+ms.
func ev(name, inst string, ms int, kv ...any) proctest.Line {
	l := proctest.Line{"name": name, "instance": inst, "ts": t0.Add(time.Duration(ms) * time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")}
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case int:
			l[kv[i].(string)] = float64(v)
		case int64:
			l[kv[i].(string)] = float64(v)
		default:
			l[kv[i].(string)] = v
		}
	}
	return l
}

func dispatched(inst string, ms int, id int64, token int64) []proctest.Line {
	return []proctest.Line{
		ev("DISPATCH_START", inst, ms, "update_id", id, "shard", 0, "token", token),
		ev("DISPATCH_OK", inst, ms+1, "update_id", id, "shard", 0, "token", token),
	}
}

// clean is three updates of one chat dispatched in order and one callback
// answered once.
func clean() Observation {
	o := Observation{
		Sent:     []Sent{{1, 7, KindEdited, ""}, {2, 7, KindEdited, ""}, {3, 7, KindCallback, "q3"}},
		Accepted: map[int64]bool{1: true, 2: true, 3: true}, Workers: 4,
		Start: t0, End: t0.Add(time.Second),
		Procs:  []Proc{{ID: "a", Expect: ExpectRunning}},
		Memory: []Memory{{Instance: "a", Measured: true, HeapBefore: 4 << 20, HeapAfter: 6 << 20, GoroutinesBefore: 30, GoroutinesAfter: 33}},
		Calls:  []fakebot.Call{{Method: "answerCallbackQuery", Status: 200, Params: map[string]any{"callback_query_id": "q3"}}},
	}
	o.Lines = append(o.Lines, ev("LEASE_ACQUIRED", "a", 0, "shard", 0, "token", 5))
	o.Lines = append(o.Lines, dispatched("a", 10, 1, 5)...)
	o.Lines = append(o.Lines, dispatched("a", 20, 2, 5)...)
	o.Lines = append(o.Lines, dispatched("a", 30, 3, 5)...)
	return o
}

func verdict(t *testing.T, r Result, name string) Verdict {
	t.Helper()
	for _, v := range r.Verdicts {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no verdict %q", name)
	return Verdict{}
}

func TestCleanRunPasses(t *testing.T) {
	r := Check("clean", "", clean())
	require.True(t, r.Pass(), "%+v", r.Failures())
	require.Equal(t, 3, r.Sent)
	require.Equal(t, 3, r.Dispatched)
	require.Equal(t, 1, r.Callbacks)
	require.Equal(t, 10*time.Millisecond, r.LongestPause)
}

func TestLostAndNotAccepted(t *testing.T) {
	o := clean()
	o.Sent = append(o.Sent, Sent{UpdateID: 4, Chat: 7, Kind: KindEdited}, Sent{UpdateID: 5, Chat: 7, Kind: KindEdited},
		Sent{UpdateID: 6, Chat: 7, Kind: KindEdited})
	o.Accepted[4], o.Accepted[5] = true, true
	o.Lines = append(o.Lines, ev("DEAD_LETTERED", "a", 50, "update_id", 5))
	r := Check("lost", "", o)
	require.Equal(t, []int64{4}, verdict(t, r, "nothing lost").Updates, "5 was dead-lettered")
	require.Equal(t, []int64{6}, verdict(t, r, "every update accepted").Updates)
	require.Equal(t, 1, r.Lost)
	require.Equal(t, 1, r.NotAccepted)
	require.Equal(t, 1, r.DeadLettered)
	require.False(t, r.Pass())

	o.Replayed = 1
	r = Check("replayed", "", o)
	require.Equal(t, []int64{5}, verdict(t, r, "replayed dead letters dispatched").Updates)
}

func TestOrderOfFirstStarts(t *testing.T) {
	o := clean()
	o.Lines = nil
	o.Lines = append(o.Lines, dispatched("a", 30, 1, 5)...)
	o.Lines = append(o.Lines, dispatched("a", 20, 2, 5)...) // 2 started before 1
	o.Lines = append(o.Lines, dispatched("a", 40, 3, 5)...)
	r := Check("order", "", o)
	require.Equal(t, []int64{2}, verdict(t, r, "per-chat order").Updates)

	// a later redelivery of 1 does not count: its first start is what matters
	o.Lines = nil
	o.Lines = append(o.Lines, dispatched("a", 10, 1, 5)...)
	o.Lines = append(o.Lines, dispatched("b", 20, 2, 6)...)
	o.Lines = append(o.Lines, dispatched("b", 25, 1, 6)...)
	o.Lines = append(o.Lines, dispatched("b", 30, 3, 6)...)
	o.Workers, o.Faults = 4, []Fault{{Label: "kill", At: t0.Add(15 * time.Millisecond), Token: 5, Unclean: true}}
	r = Check("redelivery", "", o)
	require.True(t, verdict(t, r, "per-chat order").OK)
	require.Equal(t, 1, r.Duplicated)
	require.True(t, verdict(t, r, "duplicates within bound").OK)

	// starts of two instances in one millisecond are not ordered
	o.Lines = nil
	o.Lines = append(o.Lines, dispatched("a", 10, 2, 5)...)
	o.Lines = append(o.Lines, dispatched("b", 10, 1, 5)...)
	o.Lines = append(o.Lines, dispatched("b", 20, 3, 5)...)
	require.True(t, verdict(t, Check("tie", "", o), "per-chat order").OK)
	// within one instance, the line order decides
	o.Lines = nil
	o.Lines = append(o.Lines, dispatched("a", 10, 2, 5)...)
	o.Lines = append(o.Lines, dispatched("a", 10, 1, 5)...)
	o.Lines = append(o.Lines, dispatched("a", 20, 3, 5)...)
	require.Equal(t, []int64{2}, verdict(t, Check("same-ms", "", o), "per-chat order").Updates)
}

// TestOrderOfFirstSuccesses: an update that succeeds before an earlier one
// of its chat overtook it, although it started after (the earlier one was
// waiting for a retry when a drain dispatched the later one); dead letters
// do not count.
func TestOrderOfFirstSuccesses(t *testing.T) {
	o := clean()
	o.Lines = []proctest.Line{
		ev("DISPATCH_START", "a", 10, "update_id", 1, "shard", 0, "token", 5),
		ev("DISPATCH_FAIL", "a", 11, "update_id", 1, "shard", 0, "token", 5),
		ev("DISPATCH_START", "a", 20, "update_id", 2, "shard", 0, "token", 5), // the drain
		ev("DISPATCH_OK", "a", 21, "update_id", 2, "shard", 0, "token", 5),
		ev("DISPATCH_START", "b", 30, "update_id", 1, "shard", 0, "token", 6), // the successor
		ev("DISPATCH_OK", "b", 31, "update_id", 1, "shard", 0, "token", 6),
	}
	o.Lines = append(o.Lines, dispatched("b", 40, 3, 6)...)
	r := Check("overtaken", "", o)
	require.True(t, verdict(t, r, "per-chat order").OK, "the first starts are in order")
	require.Equal(t, []int64{2}, verdict(t, r, "per-chat order of successes").Updates)
	require.Equal(t, 1, r.Reordered)

	o.Lines = append(o.Lines[:4], ev("DEAD_LETTERED", "a", 25, "update_id", 1, "shard", 0))
	o.Lines = append(o.Lines, dispatched("b", 40, 3, 6)...)
	require.True(t, verdict(t, Check("dead", "", o), "per-chat order of successes").OK, "a dead letter is not overtaken")
}

func TestForeignEnqueue(t *testing.T) {
	o := clean()
	o.Lines = append(o.Lines, ev("QUEUE_ENQUEUE", "a", 5, "update_id", 1), ev("QUEUE_ENQUEUE", "a", 6, "update_id", 99))
	require.Equal(t, []int64{99}, verdict(t, Check("foreign", "", o), "nothing foreign enqueued").Updates)
}

func TestDuplicatesBeyondTheBound(t *testing.T) {
	o := clean()
	o.Lines = append(o.Lines, dispatched("a", 40, 1, 5)...)
	r := Check("dup", "", o)
	require.Equal(t, 1, r.Duplicated)
	require.Equal(t, 0, r.DupBound, "no unclean fault: no duplicate allowed")
	require.False(t, verdict(t, r, "duplicates within bound").OK)
}

func TestStaleTokenStart(t *testing.T) {
	o := clean()
	o.Lines = append(o.Lines, ev("DISPATCH_START", "b", 25, "update_id", 2, "shard", 0, "token", 7))
	o.Lines = append(o.Lines, ev("DISPATCH_START", "a", 26, "update_id", 3, "shard", 0, "token", 5))
	r := Check("stale", "", o)
	require.Equal(t, 2, r.StaleStarts, "26 ms and the clean run's 30 ms start, both under 5 after 7")
	require.False(t, verdict(t, r, "no start under a stale token").OK)

	o = clean()
	o.Lines = append(o.Lines, ev("DISPATCH_START", "b", 30, "update_id", 2, "shard", 0, "token", 7))
	require.Zero(t, Check("same-ms", "", o).StaleStarts, "one millisecond cannot order two processes")
	o.Lines = append(o.Lines, ev("DISPATCH_START", "c", 31, "update_id", 2, "shard", 1, "token", 2))
	require.Zero(t, Check("other shard", "", o).StaleStarts, "tokens are compared within a shard")
}

func TestCallbackAnswers(t *testing.T) {
	o := clean()
	o.Calls = nil
	r := Check("unanswered", "", o)
	require.Equal(t, []int64{3}, verdict(t, r, "every callback answered").Updates)

	o = clean()
	o.Calls = append(o.Calls, o.Calls[0])
	r = Check("twice", "", o)
	require.Equal(t, []int64{3}, verdict(t, r, "at most one answer per dispatch").Updates)

	o.Lines = append(o.Lines, dispatched("b", 60, 3, 6)...)
	o.Faults = []Fault{{Label: "kill", At: t0.Add(50 * time.Millisecond), Token: 5, Unclean: true}}
	r = Check("dispatched twice", "", o)
	require.True(t, r.Pass(), "%+v", r.Failures())
	require.Equal(t, 1, r.RepeatedAnswers)

	o = clean()
	o.Calls[0].Status = 502
	require.False(t, verdict(t, Check("failed answer", "", o), "every callback answered").OK)
}

func TestCrashesAndMemory(t *testing.T) {
	o := clean()
	o.Procs = []Proc{
		{ID: "a", Expect: ExpectRunning},
		{ID: "b", Expect: ExpectKilled, Exited: true, Code: -9},
		{ID: "c", Expect: ExpectExit0, Exited: true, Code: 0},
	}
	require.True(t, Check("ok", "", o).Pass())

	o.Procs = append(o.Procs, Proc{ID: "d", Expect: ExpectRunning, Exited: true, Code: 2},
		Proc{ID: "e", Expect: ExpectRunning, Output: "panic: boom\ngoroutine 1"},
		Proc{ID: "f", Expect: ExpectExit0, Exited: true, Code: 1})
	r := Check("crash", "", o)
	require.Len(t, r.Crashed, 3)
	require.False(t, verdict(t, r, "no process crashed").OK)

	o = clean()
	o.Memory[0].HeapAfter = 2*o.Memory[0].HeapBefore + HeapSlack + 1
	o.Memory = append(o.Memory, Memory{Instance: "b", Measured: true, GoroutinesBefore: 30, GoroutinesAfter: 30 + GoroutineSlack + 1})
	r = Check("memory", "", o)
	require.Contains(t, verdict(t, r, "memory back to baseline").Detail, "a: heap")
	require.Contains(t, verdict(t, r, "memory back to baseline").Detail, "b: goroutines")
}

func TestTakeovers(t *testing.T) {
	o := clean()
	o.Faults = []Fault{
		{Label: "kill", At: t0.Add(100 * time.Millisecond), Token: 5, Unclean: true},
		{Label: "blip", At: t0.Add(500 * time.Millisecond), Token: 9},
	}
	o.Lines = append(o.Lines, ev("LEASE_ACQUIRED", "b", 1700, "shard", 0, "token", 9))
	r := Check("takeover", "", o)
	require.Equal(t, []Takeover{{"kill", 1600 * time.Millisecond}, {"blip", -1}}, r.Takeovers)
	d, ok := r.MaxTakeover()
	require.True(t, ok)
	require.Equal(t, 1600*time.Millisecond, d)
	require.Equal(t, 4, r.DupBound)
}

func TestRender(t *testing.T) {
	good := Check("leader kill -9", "Kills the leader.", clean())
	good.Notes = []string{"a note"}
	bad := clean()
	bad.Sent = append(bad.Sent, Sent{UpdateID: 9, Chat: 8, Kind: KindEdited})
	bad.Accepted[9] = true
	badR := Check("Redis restart (AOF)", "Restarts Redis.", bad)
	out := string(Render(Report{Generated: t0, Commit: "abc123", Env: []string{"Machine: test"}, Results: []Result{good}}))
	require.Contains(t, out, "Generated by `make chaos`")
	require.Contains(t, out, "zero lost updates in every scenario")
	require.Contains(t, out, "| [leader kill -9](#leader-kill--9) | 3 | 0 | 0 (0) | 0 | 0 | — | 10 ms | pass |")
	require.Equal(t, "leader-kill--9-redis-over-tls", anchor("leader kill -9, Redis over TLS"))
	require.Equal(t, "handlers-slower-than-handler_timeout", anchor("handlers slower than HANDLER_TIMEOUT"))
	require.Equal(t, "redis-restart-aof", anchor("Redis restart (AOF)"))
	require.Equal(t, "1.61 s", ms(1611*time.Millisecond))
	require.Contains(t, out, "- a note")
	require.Contains(t, out, "✅ nothing lost")

	out = string(Render(Report{Generated: t0, Commit: "abc123", Results: []Result{good, badR}}))
	require.Contains(t, out, "1 of 2 scenarios passed; 1 updates lost")
	require.Contains(t, out, "**FAIL** (nothing lost)")
	require.Contains(t, out, "❌ nothing lost: 1 of 4 accepted updates")
	require.Equal(t, 1, strings.Count(out, "### Redis restart (AOF)"))
	require.Contains(t, string(Render(Report{})), "No scenario ran")
}
