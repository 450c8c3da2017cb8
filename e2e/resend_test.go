package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// TestReplicaWaitReadsTruthfully: with REDIS_WAIT_REPLICAS=1 and no replica,
// the webhook answers 503 REPLICAS_UNAVAILABLE (not REDIS_UNAVAILABLE), and
// the chain says what happened: QUEUE_ENQUEUE first (the entry is on the
// master), the update is dispatched, and the rejection says the 503 only
// asks for a resend. The resend is a DUPLICATE_UPDATE that names the
// original's cid, and `dispatcher trace` of the resend shows the original's
// chain.
func TestReplicaWaitReadsTruthfully(t *testing.T) {
	e := world.New(t, "", map[string]string{"REDIS_WAIT_REPLICAS": "1", "REDIS_WAIT_TIMEOUT": "100ms"})
	in := e.Start(1, "wait")[0]
	require.NotNil(t, e.Active(5*time.Second, []*proctest.Instance{in}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const chat, uid = 626262, 620001
	body := world.StartMessage(uid, chat)
	code, answer, err := in.Post(ctx, "/webhook", body)
	require.NoError(t, err)
	require.Equal(t, 503, code, answer)

	rejectedOf := func(cid string) proctest.Line {
		l, ok := in.WaitLine(5*time.Second, func(l proctest.Line) bool {
			return l.Name() == "WEBHOOK_REJECTED" && l.Int("update_id") == uid && (cid == "" || l.Str("cid") == cid)
		})
		require.True(t, ok, "WEBHOOK_REJECTED of update %d", uid)
		return l
	}
	rej := rejectedOf("")
	cid := rej.Str("cid")
	require.Equal(t, "REPLICAS_UNAVAILABLE", rej.Str("reason_code"))
	require.Equal(t, "WEBHOOK", rej.Str("domain"))
	require.Equal(t, "appended, will be dispatched; 0 of 1 replicas acked in 100ms", rej.Str("reason_text"))

	_, ok := in.WaitLine(10*time.Second, func(l proctest.Line) bool { return l.Name() == "DISPATCH_OK" && l.Str("cid") == cid })
	require.True(t, ok, "the entry on the master is dispatched")
	var names, byTS []string // in write order, and in ts order
	var lines []proctest.Line
	for _, l := range in.Lines() {
		if l.Str("cid") == cid {
			names = append(names, l.Name())
			lines = append(lines, l)
		}
		require.NotEqual(t, "REDIS_UNAVAILABLE", l.Str("reason_code"), "Redis answered every time")
	}
	// the ingest writes what Redis did, then the 503; the worker may have
	// dispatched meanwhile (QUEUE_ENQUEUE waits for WAIT's answer), so the
	// chain reads in order by ts, as trace and the runbook's sort read it
	require.Less(t, indexOf(names, "QUEUE_ENQUEUE"), indexOf(names, "WEBHOOK_REJECTED"), "%v", names)
	slices.SortStableFunc(lines, func(a, b proctest.Line) int { return strings.Compare(a.Str("ts"), b.Str("ts")) })
	for _, l := range lines {
		byTS = append(byTS, l.Name())
	}
	require.Equal(t, "QUEUE_ENQUEUE", byTS[0], "by ts the append comes first: %v", byTS)
	// and the 503 after the wait: how much of the dispatch fits in those
	// 100 ms depends on the machine's load, so only the wait is checked
	tsOf := func(name string) time.Time {
		for _, l := range lines {
			if l.Name() == name {
				ts, err := time.Parse(time.RFC3339Nano, l.Str("ts"))
				require.NoError(t, err)
				return ts
			}
		}
		t.Fatalf("no %s in %v", name, byTS)
		return time.Time{}
	}
	waited := tsOf("WEBHOOK_REJECTED").Sub(tsOf("QUEUE_ENQUEUE"))
	require.GreaterOrEqual(t, waited, 100*time.Millisecond, "the 503 is written after REDIS_WAIT_TIMEOUT: %v", byTS)

	// Telegram resends: a duplicate of that cid, still not replicated
	code, answer, err = in.Post(ctx, "/webhook", body)
	require.NoError(t, err)
	require.Equal(t, 503, code, answer)
	dup, ok := in.WaitLine(5*time.Second, func(l proctest.Line) bool { return l.Name() == "DUPLICATE_UPDATE" && l.Int("update_id") == uid })
	require.True(t, ok)
	resend := dup.Str("cid")
	require.NotEqual(t, cid, resend, "a resend gets a cid of its own")
	require.Equal(t, cid, dup.Str("original_cid"))
	rej = rejectedOf(resend)
	require.Equal(t, "duplicate of "+cid+"; 0 of 1 replicas acked in 100ms", rej.Str("reason_text"))
	sends := 0
	for _, c := range e.Bot.Calls() {
		if c.Method == "sendMessage" && c.Chat() == "626262" {
			sends++
		}
	}
	require.Equal(t, 1, sends, "dispatched once")

	out := cliUntil(t, e, []string{"DUPLICATE_UPDATE", "QUEUE_ENQUEUE", "DISPATCH_OK", "REPLICAS_UNAVAILABLE"}, "trace", resend)
	t.Logf("dispatcher trace %s:\n%s", resend, out)
	require.Contains(t, out, "cid "+resend+" is a resend of an update first ingested as cid "+cid+"; the original's chain:")
	for _, ev := range []string{"DUPLICATE_UPDATE", "QUEUE_ENQUEUE", "DISPATCH_OK", "REPLICAS_UNAVAILABLE"} {
		require.Contains(t, out, ev)
	}
	require.Less(t, strings.Index(out, "DUPLICATE_UPDATE"), strings.Index(out, "QUEUE_ENQUEUE"), "the resend's own chain first")
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// cliUntil runs a dispatcher command until it succeeds with an output that
// holds every want (the journal is written asynchronously), and returns
// that output.
func cliUntil(t *testing.T, e *world.World, want []string, args ...string) string {
	t.Helper()
	var out string
	require.True(t, proctest.Eventually(10*time.Second, 100*time.Millisecond, func() bool {
		o, _, code := e.CLI(args...)
		out = o
		if code != 0 {
			return false
		}
		for _, w := range want {
			if !strings.Contains(o, w) {
				return false
			}
		}
		return true
	}), "dispatcher %v: %s", args, out)
	return out
}
