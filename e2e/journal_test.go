package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/journal"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// journalOf reads the journal the instances of e write, on c.
func journalOf(e *world.World, c redis.UniversalClient) *journal.Journal {
	return journal.New(journal.Options{Client: c, Keys: e.Keys, NoJanitor: true})
}

// chainNames returns the event names of cid's chain.
func chainNames(t *testing.T, j *journal.Journal, cid string) []string {
	t.Helper()
	chain, err := j.Chain(context.Background(), cid)
	require.NoError(t, err)
	names := make([]string, len(chain))
	for i, e := range chain {
		names[i] = e.Name()
	}
	return names
}

func whole(names []string) bool {
	return len(names) == 4 && names[0] == string(telemetry.EvQueueEnqueue) && names[3] == string(telemetry.EvDispatchOK)
}

// TestJournalRedisDownLosesJournalOnly: the journal in a Redis of its own
// (JOURNAL_REDIS_URL, AOF), stopped for 10 s while two instances take 100
// updates a second: every update is still answered 200 at once and
// dispatched at the same pace, each chat in order; the journal loses the
// chains of the outage only (those before it are still there, those after
// it are written again), and says so: JOURNAL_WRITE_FAILED, at most once a
// minute per instance, and dispatcher_journal_dropped_total.
func TestJournalRedisDownLosesJournalOnly(t *testing.T) {
	jsrv := redistest.NewServer(t, true)
	e := world.New(t, "", map[string]string{"JOURNAL_REDIS_URL": jsrv.URL()})
	ins := e.Start(2, "jdown")
	require.NotNil(t, e.Active(5*time.Second, ins))
	l := load{N: 2500, Chats: 25, Rate: 100, FirstID: 8_600_000, FirstChat: 86_000}
	d := world.NewDriver(ins)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	begin := time.Now()
	posted := make(chan []error, 1)
	go func() { posted <- l.post(ctx, d, begin) }()

	sleepUntil(begin.Add(5 * time.Second))
	jsrv.Stop()
	stopped := time.Now()
	sleepUntil(stopped.Add(10 * time.Second)) // the outage under test
	jsrv.Start()
	restarted := time.Now()
	require.Empty(t, <-posted, "updates never accepted")
	accepted := d.Accepted()
	require.Len(t, accepted, l.N)
	require.Equal(t, map[int]int{200: l.N}, d.Answers(), "every update answered 200 the first time")
	requireDrained(t, e, 30*time.Second)
	requireAllOK(t, e, accepted, 10*time.Second)
	o := checkOrder(dispatchStarts(e.Cluster.Instances()))
	require.Empty(t, o.violations)
	require.Equal(t, l.N, o.distinct)

	// dispatching went on at the load's pace while the journal was down
	lines := e.Cluster.Lines()
	okDuring := 0
	for _, ln := range world.LinesNamed(lines, "DISPATCH_OK") {
		if ts, _ := time.Parse(time.RFC3339Nano, ln.Str("ts")); ts.After(stopped.Add(time.Second)) && ts.Before(restarted.Add(-time.Second)) {
			okDuring++
		}
	}
	expected := int(restarted.Sub(stopped).Seconds()-2) * l.Rate
	require.GreaterOrEqual(t, okDuring, expected*9/10, "dispatches slowed down while the journal was down")

	// the journal: before the outage kept, during it lost, after it kept
	for _, in := range ins {
		in.Signal(0) // still running
	}
	jc := jsrv.Client()
	j := journalOf(e, jc)
	var before, during, after, keptBefore, lostDuring, keptAfter int
	for i := 0; i < l.N; i += 5 {
		at := begin.Add(time.Duration(i) * time.Second / time.Duration(l.Rate))
		names := chainNames(t, j, accepted[l.id(i)])
		switch {
		case at.Before(stopped.Add(-2 * time.Second)):
			before++
			if whole(names) {
				keptBefore++
			}
		case at.After(stopped.Add(time.Second)) && at.Before(restarted.Add(-time.Second)):
			during++
			if len(names) == 0 {
				lostDuring++
			}
		case at.After(restarted.Add(8 * time.Second)): // past the writers' backoff (at most 5 s)
			after++
			if whole(names) {
				keptAfter++
			}
		}
	}
	t.Logf("sampled chains: before the outage %d of %d whole, during it %d of %d lost, after it %d of %d whole",
		keptBefore, before, lostDuring, during, keptAfter, after)
	require.Equal(t, before, keptBefore, "chains written before the outage")
	require.GreaterOrEqual(t, lostDuring, during*9/10, "chains of the outage should be lost, not invented")
	require.Positive(t, after)
	require.Equal(t, after, keptAfter, "chains written after the outage")

	// and it said so, rate-limited
	reports := map[string]int{}
	for _, ln := range world.LinesNamed(lines, "JOURNAL_WRITE_FAILED") {
		reports[ln.Str("instance")]++
		require.Equal(t, "REDIS_UNAVAILABLE", ln.Str("reason_code"))
	}
	var failures float64
	for _, in := range ins {
		m, err := in.Metrics()
		require.NoError(t, err)
		failures += proctest.Sum(m, "dispatcher_journal_dropped_total")
		require.LessOrEqual(t, reports[in.ID], 2, "%s: JOURNAL_WRITE_FAILED more than once a minute", in.ID)
		require.False(t, in.Exited(), "%s exited: %s", in.ID, in.Output())
	}
	require.Positive(t, failures)
	require.NotEmpty(t, reports)
	require.Empty(t, world.LinesNamed(lines, "WEBHOOK_REJECTED"))
	t.Logf("journal Redis stopped %s for %s under %d updates/s: answers %v; %d DISPATCH_OK during the outage; JOURNAL_WRITE_FAILED per instance %v; %.0f journal events not kept",
		stopped.Sub(begin).Round(time.Millisecond), restarted.Sub(stopped).Round(time.Millisecond), l.Rate, d.Answers(), okDuring, reports, failures)
}

// TestIngestNeverRefusesBecauseOfTheJournal: the queue's Redis (noeviction)
// with 12 MiB of room, the journal in it with JOURNAL_MAX_MEMORY=1MiB,
// 10,000 updates: every one is answered 200 and dispatched, and the
// journal stays in its budget. (The journal before its budget, about
// 1,500 bytes an update for JOURNAL_TTL, would have filled the room after
// about 8,000 updates, and the webhook answered 503 from there.)
func TestIngestNeverRefusesBecauseOfTheJournal(t *testing.T) {
	srv := redistest.NewServer(t, false)
	rc := srv.Client()
	bg := context.Background()
	used := func() int64 {
		s := rc.Info(bg, "memory").Val()
		for _, line := range strings.Split(s, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		return 0
	}
	room := int64(12 << 20)
	limit := used() + room
	require.NoError(t, rc.ConfigSet(bg, "maxmemory", strconv.FormatInt(limit, 10)).Err())
	require.NoError(t, rc.ConfigSet(bg, "maxmemory-policy", "noeviction").Err())
	const budget = 1 << 20
	e := world.New(t, srv.URL(), map[string]string{"JOURNAL_MAX_MEMORY": "1MiB"})
	ins := e.Start(2, "jroom")
	require.NotNil(t, e.Active(5*time.Second, ins))
	l := load{N: 10000, Chats: 50, Rate: 800, FirstID: 8_700_000, FirstChat: 87_000}
	d := world.NewDriver(ins)
	ctx, cancel := context.WithTimeout(bg, 90*time.Second)
	defer cancel()
	require.Empty(t, l.post(ctx, d, time.Now()), "updates never accepted")
	accepted := d.Accepted()
	require.Len(t, accepted, l.N)
	requireDrained(t, e, 30*time.Second)
	requireAllOK(t, e, accepted, 20*time.Second)
	require.Equal(t, map[int]int{200: l.N}, d.Answers(), "the webhook refused updates")
	require.Empty(t, world.LinesNamed(e.Cluster.Lines(), "WEBHOOK_REJECTED"))

	var st journal.Stats
	proctest.Eventually(5*time.Second, 100*time.Millisecond, func() bool { // the janitors' last passes
		var err error
		st, err = journalOf(e, rc).Stats(bg)
		return err == nil && st.Used <= budget*11/10
	})
	t.Logf("%d updates, all answered 200: Redis used %d of its %d limit; journal %d B of %d (%d segments evicted)",
		l.N, used(), limit, st.Used, st.Budget, st.Evicted)
	require.LessOrEqual(t, float64(st.Used), 1.10*budget)
	require.Positive(t, st.Evicted, "the load should have filled the budget")
	require.Less(t, used(), limit)
}
