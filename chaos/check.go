package chaos

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
)

// Memory bounds: after the load, an instance's heap in use may be at most
// HeapFactor times its baseline plus HeapSlack (garbage not yet collected
// counts too, so the bound is generous), and its goroutines at most
// GoroutineSlack above the baseline (idle keep-alive connections).
const (
	HeapFactor     = 2
	HeapSlack      = 32 << 20
	GoroutineSlack = 25
)

// Verdict is the outcome of one invariant.
type Verdict struct {
	Name   string
	OK     bool
	Detail string
	// Updates are the update_ids that broke it, when it is about updates.
	Updates []int64
}

// Takeover is how long one fault left shard 0 without a new lease holder.
type Takeover struct {
	Fault string
	// After is the time from the fault to the first LEASE_ACQUIRED with a
	// larger token; negative when the lease never moved (the holder kept it).
	After time.Duration
}

// Result is a scenario's figures and verdicts.
type Result struct {
	Name     string
	Title    string // one line: what the scenario does
	Sent     int    // updates posted
	Accepted int    // answered 200
	Lost     int    // accepted, neither dispatched nor dead-lettered
	// NotAccepted counts updates the driver could not get a 200 for before
	// the scenario ended (Telegram would keep resending them).
	NotAccepted  int
	Dispatched   int // accepted updates with at least one DISPATCH_OK
	DeadLettered int // accepted updates dead-lettered at least once
	Replayed     int // dead letters re-enqueued with `dlq replay`
	Duplicated   int // DISPATCH_OK beyond the first, summed over updates
	DupBound     int
	Reordered    int // updates whose first start, or first success, preceded an earlier one's of their chat
	StaleStarts  int // DISPATCH_START under a token older than one already dispatching
	Callbacks    int // callback queries accepted
	// RepeatedAnswers counts answers beyond the first, each from another
	// dispatch of the same update (a duplicate).
	RepeatedAnswers int
	Crashed         []string
	Takeovers       []Takeover
	LongestPause    time.Duration // largest gap between DISPATCH_OKs during the load
	Memory          []Memory
	Verdicts        []Verdict
	Notes           []string
	Elapsed         time.Duration
}

// Pass reports whether every invariant held.
func (r Result) Pass() bool {
	for _, v := range r.Verdicts {
		if !v.OK {
			return false
		}
	}
	return len(r.Verdicts) > 0
}

// Failures returns the verdicts that did not hold.
func (r Result) Failures() []Verdict {
	var out []Verdict
	for _, v := range r.Verdicts {
		if !v.OK {
			out = append(out, v)
		}
	}
	return out
}

// MaxTakeover returns the longest takeover, and false when no fault moved
// the lease.
func (r Result) MaxTakeover() (time.Duration, bool) {
	var max time.Duration
	found := false
	for _, t := range r.Takeovers {
		if t.After >= 0 && (!found || t.After > max) {
			max, found = t.After, true
		}
	}
	return max, found
}

// start is one DISPATCH_START.
type start struct {
	ts       time.Time
	instance string
	seq      int // position among the instance's lines
	shard    int64
	token    int64
}

// before reports whether a certainly happened before b: an earlier
// timestamp, or the same timestamp on the same instance and an earlier
// line. Starts of different instances with one timestamp are not ordered
// (ts has a finite precision).
func (a start) before(b start) bool {
	if !a.ts.Equal(b.ts) {
		return a.ts.Before(b.ts)
	}
	return a.instance == b.instance && a.seq < b.seq
}

func lineTime(l proctest.Line) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, l.Str("ts"))
	return t
}

// Check computes a scenario's figures from what it observed and checks
// every invariant (see the package comment).
func Check(name, title string, o Observation) Result {
	r := Result{Name: name, Title: title, Sent: len(o.Sent), Replayed: o.Replayed, Memory: o.Memory}

	okCount := map[int64]int{}
	dead := map[int64]bool{}
	starts := map[int64][]start{}
	firstOK := map[int64]start{}
	var oks []time.Time
	var all []start
	type acquisition struct {
		ts    time.Time
		token int64
	}
	var acquired []acquisition
	seq := map[string]int{}
	for _, l := range o.Lines {
		inst := l.Str("instance")
		seq[inst]++
		switch l.Name() {
		case "DISPATCH_OK":
			id := l.Int("update_id")
			okCount[id]++
			oks = append(oks, lineTime(l))
			if f, seen := firstOK[id]; !seen || (start{ts: lineTime(l), instance: inst, seq: seq[inst]}).before(f) {
				firstOK[id] = start{ts: lineTime(l), instance: inst, seq: seq[inst]}
			}
		case "DEAD_LETTERED":
			dead[l.Int("update_id")] = true
		case "DISPATCH_START":
			s := start{ts: lineTime(l), instance: inst, seq: seq[inst], shard: l.Int("shard"), token: l.Int("token")}
			starts[l.Int("update_id")] = append(starts[l.Int("update_id")], s)
			all = append(all, s)
		case "LEASE_ACQUIRED":
			if l.Int("shard") == 0 && l.Str("lease") == o.Lease {
				acquired = append(acquired, acquisition{lineTime(l), l.Int("token")})
			}
		}
	}

	// nothing enqueued but what the driver sent
	sent := map[int64]bool{}
	for _, s := range o.Sent {
		sent[s.UpdateID] = true
	}
	var foreign []int64
	for _, l := range o.Lines {
		if l.Name() == "QUEUE_ENQUEUE" && !sent[l.Int("update_id")] {
			foreign = append(foreign, l.Int("update_id"))
		}
	}
	r.verdictIDs("nothing foreign enqueued", foreign,
		"%d updates enqueued that the driver never sent%s", len(foreign), sample(foreign))

	// lost, duplicated
	var lost, notAccepted []int64
	for _, s := range o.Sent {
		if !o.Accepted[s.UpdateID] {
			notAccepted = append(notAccepted, s.UpdateID)
			continue
		}
		r.Accepted++
		if okCount[s.UpdateID] > 0 {
			r.Dispatched++
		}
		if dead[s.UpdateID] {
			r.DeadLettered++
		}
		if okCount[s.UpdateID] == 0 && !dead[s.UpdateID] {
			lost = append(lost, s.UpdateID)
		}
		if n := okCount[s.UpdateID]; n > 1 {
			r.Duplicated += n - 1
		}
	}
	r.Lost, r.NotAccepted = len(lost), len(notAccepted)
	for _, f := range o.Faults {
		if f.Unclean {
			r.DupBound += o.Workers
		}
	}
	r.verdictIDs("nothing lost", lost,
		"%d of %d accepted updates neither dispatched nor dead-lettered%s", len(lost), r.Accepted, sample(lost))
	if o.Replayed > 0 {
		var stuck []int64
		for _, s := range o.Sent {
			if o.Accepted[s.UpdateID] && dead[s.UpdateID] && okCount[s.UpdateID] == 0 {
				stuck = append(stuck, s.UpdateID)
			}
		}
		r.verdictIDs("replayed dead letters dispatched", stuck,
			"%d dead-lettered updates not dispatched after `dlq replay`%s", len(stuck), sample(stuck))
	}
	r.verdictIDs("every update accepted", notAccepted,
		"%d of %d updates never answered 200 by any instance%s", len(notAccepted), r.Sent, sample(notAccepted))
	r.verdict("duplicates within bound", r.Duplicated <= r.DupBound,
		"%d duplicate dispatches, bound %d (WORKERS=%d × %d unclean term ends)", r.Duplicated, r.DupBound, o.Workers, r.DupBound/max(o.Workers, 1))

	// per-chat order of first starts, in the order the chat's updates were accepted
	firsts := map[int64]start{}
	for id, ss := range starts {
		f := ss[0]
		for _, s := range ss[1:] {
			if s.before(f) {
				f = s
			}
		}
		firsts[id] = f
	}
	byChat := map[int64][]int64{}
	for _, s := range o.Sent {
		if _, ok := firsts[s.UpdateID]; ok && o.Accepted[s.UpdateID] {
			byChat[s.Chat] = append(byChat[s.Chat], s.UpdateID)
		}
	}
	reordered := outOfOrder(byChat, firsts)
	r.verdictIDs("per-chat order", reordered,
		"%d updates started before an earlier update of their chat%s", len(reordered), sample(reordered))

	// per-chat order of first successes: an update that succeeded before
	// an earlier one of its chat overtook it (a retry, a drain); updates
	// that were dead-lettered (and maybe replayed) aside
	okChat := map[int64][]int64{}
	for _, s := range o.Sent {
		if _, ok := firstOK[s.UpdateID]; ok && o.Accepted[s.UpdateID] && !dead[s.UpdateID] {
			okChat[s.Chat] = append(okChat[s.Chat], s.UpdateID)
		}
	}
	overtook := outOfOrder(okChat, firstOK)
	r.verdictIDs("per-chat order of successes", overtook,
		"%d updates dispatched successfully before an earlier update of their chat%s", len(overtook), sample(overtook))
	seen := map[int64]bool{}
	for _, id := range append(reordered, overtook...) {
		seen[id] = true
	}
	r.Reordered = len(seen)

	// no start under a token older than one that already started
	sort.SliceStable(all, func(i, j int) bool { return all[i].ts.Before(all[j].ts) })
	maxBefore := map[int64]int64{} // shard -> largest token of strictly earlier timestamps
	var stale []string
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].ts.Equal(all[i].ts) {
			j++
		}
		for _, s := range all[i:j] {
			if m := maxBefore[s.shard]; s.token < m {
				stale = append(stale, fmt.Sprintf("%s token %d at %s after token %d", s.instance, s.token,
					s.ts.Format("15:04:05.000"), m))
			}
		}
		for _, s := range all[i:j] {
			if s.token > maxBefore[s.shard] {
				maxBefore[s.shard] = s.token
			}
		}
		i = j
	}
	r.StaleStarts = len(stale)
	r.verdict("no start under a stale token", len(stale) == 0, "%d stale DISPATCH_START%s", len(stale), sampleS(stale))

	// callbacks: answered, once per dispatch
	answers := map[string]int{}
	for _, c := range o.Calls {
		if c.Method == "answerCallbackQuery" && c.Status == http.StatusOK {
			answers[fmt.Sprint(c.Params["callback_query_id"])]++
		}
	}
	var unanswered, over []int64
	for _, s := range o.Sent {
		if s.Kind != KindCallback || !o.Accepted[s.UpdateID] {
			continue
		}
		r.Callbacks++
		n := answers[s.QueryID]
		switch {
		case n == 0:
			unanswered = append(unanswered, s.UpdateID)
		case n > len(starts[s.UpdateID]):
			over = append(over, s.UpdateID)
		}
		if n > 1 {
			r.RepeatedAnswers += n - 1
		}
	}
	r.verdictIDs("every callback answered", unanswered,
		"%d of %d callbacks never answered%s", len(unanswered), r.Callbacks, sample(unanswered))
	r.verdictIDs("at most one answer per dispatch", over,
		"%d callbacks answered more often than dispatched%s; %d answers repeated by duplicate dispatches",
		len(over), sample(over), r.RepeatedAnswers)

	// processes
	for _, p := range o.Procs {
		why := ""
		switch {
		case p.Expect == ExpectRunning && p.Exited:
			why = fmt.Sprintf("exited with %d", p.Code)
		case p.Expect == ExpectExit0 && (!p.Exited || p.Code != 0):
			why = fmt.Sprintf("expected exit 0 after SIGTERM, got exited=%v code %d", p.Exited, p.Code)
		case p.Expect == ExpectKilled && (!p.Exited || p.Code != -9):
			why = fmt.Sprintf("expected to be killed, got exited=%v code %d", p.Exited, p.Code)
		case p.Expect == ExpectExit1 && (!p.Exited || p.Code != 1):
			why = fmt.Sprintf("expected to exit 1, got exited=%v code %d", p.Exited, p.Code)
		case p.Expect == ExpectExit2 && (!p.Exited || p.Code != 2):
			why = fmt.Sprintf("expected to exit 2, got exited=%v code %d", p.Exited, p.Code)
		}
		for _, bad := range []string{"panic:", "fatal error:", "DATA RACE"} {
			if strings.Contains(p.Output, bad) {
				why = strings.TrimSpace(why + " output holds " + bad)
			}
		}
		if why != "" {
			r.Crashed = append(r.Crashed, p.ID+": "+why)
		}
	}
	r.verdict("no process crashed", len(r.Crashed) == 0, "%s", strings.Join(r.Crashed, "; "))

	// memory
	var heavy []string
	for _, m := range o.Memory {
		if !m.Measured {
			heavy = append(heavy, m.Instance+": /metrics not read")
			continue
		}
		if m.HeapAfter > HeapFactor*m.HeapBefore+HeapSlack {
			heavy = append(heavy, fmt.Sprintf("%s: heap %.1f → %.1f MiB", m.Instance, mib(m.HeapBefore), mib(m.HeapAfter)))
		}
		if m.GoroutinesAfter > m.GoroutinesBefore+GoroutineSlack {
			heavy = append(heavy, fmt.Sprintf("%s: goroutines %.0f → %.0f", m.Instance, m.GoroutinesBefore, m.GoroutinesAfter))
		}
	}
	r.verdict("memory back to baseline", len(heavy) == 0, "%s", strings.Join(heavy, "; "))

	if p := o.Poll; p != nil {
		r.verdict("each update appended once", p.Appends == int64(r.Accepted),
			"%d appends to the streams for %d updates queued for getUpdates", p.Appends, r.Accepted)
		r.verdict("every update confirmed to Telegram", p.Confirmed > p.Last,
			"Telegram's offset is %d, the last update %d", p.Confirmed, p.Last)
		r.verdict("one getUpdates at a time", p.Conflicts <= p.Paused,
			"%d getUpdates ended by another one, %d pollers paused", p.Conflicts, p.Paused)
	}

	// takeovers
	for _, f := range o.Faults {
		t := Takeover{Fault: f.Label, After: -1}
		for _, a := range acquired {
			if !a.ts.Before(f.At.Truncate(time.Millisecond)) && a.token > f.Token {
				t.After = a.ts.Sub(f.At)
				if t.After < 0 {
					t.After = 0
				}
				break
			}
		}
		r.Takeovers = append(r.Takeovers, t)
	}

	// longest pause between dispatches during the load
	sort.Slice(oks, func(i, j int) bool { return oks[i].Before(oks[j]) })
	var prev time.Time
	for _, ts := range oks {
		if ts.Before(o.Start) || ts.After(o.End) {
			continue
		}
		if !prev.IsZero() && ts.Sub(prev) > r.LongestPause {
			r.LongestPause = ts.Sub(prev)
		}
		prev = ts
	}
	return r
}

// outOfOrder returns, of each chat's updates in the order they were
// accepted, those whose event (at) came before an earlier one's.
func outOfOrder(byChat map[int64][]int64, at map[int64]start) []int64 {
	var out []int64
	for _, ids := range byChat {
		for j := 1; j < len(ids); j++ {
			for i := 0; i < j; i++ {
				if at[ids[j]].before(at[ids[i]]) {
					out = append(out, ids[j])
					break
				}
			}
		}
	}
	return out
}

func (r *Result) verdictIDs(name string, ids []int64, format string, args ...any) {
	r.verdict(name, len(ids) == 0, format, args...)
	r.Verdicts[len(r.Verdicts)-1].Updates = ids
}

func (r *Result) verdict(name string, ok bool, format string, args ...any) {
	v := Verdict{Name: name, OK: ok}
	if !ok {
		v.Detail = fmt.Sprintf(format, args...)
	}
	r.Verdicts = append(r.Verdicts, v)
}

func sample(ids []int64) string {
	if len(ids) == 0 {
		return ""
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if len(ids) > 5 {
		return fmt.Sprintf(" (e.g. %v)", ids[:5])
	}
	return fmt.Sprintf(" (%v)", ids)
}

func sampleS(s []string) string {
	if len(s) == 0 {
		return ""
	}
	if len(s) > 3 {
		s = s[:3]
	}
	return " (" + strings.Join(s, "; ") + ")"
}

func mib(b float64) float64 { return b / (1 << 20) }
