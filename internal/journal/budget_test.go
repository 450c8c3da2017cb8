package journal

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// chainLoad logs the chains of a menu bot's clicks: QUEUE_ENQUEUE on an
// ingesting instance, then the dispatch on another (nine events), every
// failEvery-th refused with STATE_MISMATCH.
type chainLoad struct {
	ingest    []instance
	dispatch  instance
	failEvery int
	users     int64
}

func (l chainLoad) update(i int64) telemetry.Update {
	user := 5550000 + i%l.users
	return telemetry.Update{CID: fmt.Sprintf("%08x", 0x20000000+i), UpdateID: 1_000_000 + i, Type: "callback_query",
		UserID: user, ChatID: user}
}

func (l chainLoad) failing(i int64) bool { return l.failEvery > 0 && i%int64(l.failEvery) == 0 }

func (l chainLoad) one(i int64) {
	u := l.update(i)
	ctx := telemetry.WithUpdate(context.Background(), u)
	in := l.ingest[i%int64(len(l.ingest))]
	in.log.QueueEnqueue(ctx, u.Type, 0, i%40, strconv.FormatInt(time.Now().UnixMilli(), 10)+"-"+strconv.FormatInt(i%7, 10))
	d := l.dispatch.log
	d.QueuePick(ctx, "w"+strconv.FormatInt(i%16, 10), 0, 1, 2*time.Millisecond)
	d.DispatchStart(ctx, 0, 1795907791143524)
	d.CallbackReceived(ctx, "v1:cat:text@mmx114pnb")
	d.CallbackRouted(ctx, "category", "cat:text")
	if l.failing(i) {
		d.CallbackRejected(ctx, telemetry.ReasonStateMismatch, "Button expired, use /start", "MAIN_MENU", "MODEL_PICK")
		d.AnswerCallbackQuery(ctx, "Button expired, use /start")
	} else {
		d.CallbackAccepted(ctx, "MODEL_PICK")
		d.UIRender(ctx, "MODEL_PICK", []telemetry.ButtonID{"model:sdxl", "model:flux", "back"})
		d.AnswerCallbackQuery(ctx, "")
	}
	d.DispatchOK(ctx, 3*time.Millisecond, 0, 1795907791143524)
}

// run logs n chains at rate a second (paced, so the writers keep up as
// they would in service), from first on.
func (l chainLoad) run(first, n int64, rate float64) {
	start := time.Now()
	for i := first; i < first+n; i++ {
		if (i-first)%50 == 0 {
			due := start.Add(time.Duration(float64(i-first) / rate * float64(time.Second)))
			time.Sleep(time.Until(due)) // pacing of the load, not a wait for a condition
		}
		l.one(i)
	}
}

// journalBytes is the exact size of every journal key.
func journalBytes(t *testing.T, c *redis.Client, ns string) int64 {
	t.Helper()
	n, _, err := ExactSize(context.Background(), c, keys.New(ns))
	require.NoError(t, err)
	return n
}

// usedMemory is INFO used_memory less the clients' buffers.
func usedMemory(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	s, err := c.Info(context.Background(), "memory").Result()
	require.NoError(t, err)
	var used, clients int64
	for _, line := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			used, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "mem_clients_normal:"); ok {
			clients, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return used - clients
}

// budgetWorld is three instances sharing a journal in a dedicated
// redis-server: two ingest, one dispatches.
func budgetWorld(t *testing.T, budget int64) (*redis.Client, string, chainLoad) {
	srv := redistest.NewServer(t, false)
	c := srv.Client()
	ns := "jb"
	o := Options{Client: c, Keys: keys.New(ns), MaxMemory: budget}
	l := chainLoad{failEvery: 20, users: 500,
		ingest:   []instance{newInstance(t, o, "node-a", telemetry.RolePassive), newInstance(t, o, "node-b", telemetry.RolePassive)},
		dispatch: newInstance(t, o, "node-c", telemetry.RoleActive)}
	return c, ns, l
}

func (l chainLoad) flushAll(t *testing.T) {
	for _, in := range append([]instance{l.dispatch}, l.ingest...) {
		flush(t, in.j)
	}
}

func (l chainLoad) failures() int64 {
	n := l.dispatch.j.Failures()
	for _, in := range l.ingest {
		n += in.j.Failures()
	}
	return n
}

// TestBudgetUnderSustainedLoad: a 2 MiB budget, three instances writing
// the chains of 20,000 clicks (about twice what it holds), one in twenty
// refused, one user in debug mode.
func TestBudgetUnderSustainedLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("sustained load")
	}
	const budget = 2 << 20
	c, ns, l := budgetWorld(t, budget)
	base := usedMemory(t, c)
	bg := context.Background()

	// a user in debug mode, followed by every instance
	const debugUser = 5550007
	_, err := l.dispatch.j.DebugUser(bg, debugUser, time.Hour)
	require.NoError(t, err)
	for _, in := range append([]instance{l.dispatch}, l.ingest...) {
		require.Eventually(t, func() bool { return in.j.w.view.Load().debugUser(debugUser, time.Now().UnixMilli()) }, 5*time.Second, 10*time.Millisecond)
	}
	long := telemetry.Update{CID: "3000000a", UpdateID: 42, UserID: debugUser, ChatID: debugUser}
	for i := 0; i < 2*MaxEvents; i++ {
		l.dispatch.log.CallbackReceived(telemetry.WithUpdate(bg, long), "e"+strconv.Itoa(i))
	}

	var mu sync.Mutex
	var peak, peakUsed int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			b, u := journalBytes(t, c, ns), usedMemory(t, c)-base
			mu.Lock()
			peak, peakUsed = max(peak, b), max(peakUsed, u)
			mu.Unlock()
		}
	}()
	const n = 20000
	l.run(0, n, 2500)
	l.flushAll(t)
	// the janitor's passes after the last writes bring the keys within the
	// budget (a pass every janitorEvery; a loaded machine may need several)
	require.True(t, proctest.Eventually(40*janitorEvery, janitorEvery/5, func() bool {
		return float64(journalBytes(t, c, ns)) <= 1.10*budget
	}), "the journal's keys stay past the budget + 10%% after the writes: %d B", journalBytes(t, c, ns))
	close(stop)
	<-sampled
	final, finalUsed := journalBytes(t, c, ns), usedMemory(t, c)-base
	st, err := l.dispatch.j.Stats(bg)
	require.NoError(t, err)
	t.Logf("budget %d B: journal keys peak %d B (%.1f%%), final %d B (%.1f%%); INFO used_memory growth: peak %d B, final %d B; %d segments evicted; %d events not kept",
		budget, peak, 100*float64(peak)/budget, final, 100*float64(final)/budget, peakUsed, finalUsed, st.Evicted, l.failures())
	for _, ts := range st.Tiers {
		t.Logf("tier %s: %d segments, %d B", ts.Tier, ts.Segments, ts.Bytes)
	}
	require.Zero(t, l.failures(), "events were dropped")

	t.Run("the journal stays within its budget", func(t *testing.T) {
		require.LessOrEqual(t, float64(peak), 1.10*budget, "the journal's keys went past the budget + 10%")
		require.GreaterOrEqual(t, float64(final), 0.90*budget, "the journal does not use its budget")
		require.LessOrEqual(t, float64(final), 1.10*budget)
		require.Positive(t, st.Evicted)
	})

	// sample the chains: click k*100 was refused, k*100+1 went well
	kept := func(i int64) (bool, telemetry.JournalEvent) {
		chain, err := l.dispatch.j.Chain(bg, l.update(i).CID)
		require.NoError(t, err)
		if len(chain) == 0 {
			return false, nil
		}
		return true, chain[0]
	}
	firstKept := func(offset int64) int64 {
		for i := offset; i < n; i += 100 {
			if ok, _ := kept(i); ok {
				return i
			}
		}
		return n
	}
	t.Run("failing chains outlive the chains that went well", func(t *testing.T) {
		fail, ok := firstKept(0), firstKept(1)
		t.Logf("oldest failing chain kept: click %d; oldest chain that went well kept: click %d (of %d)", fail, ok, n)
		require.Less(t, fail+n/4, ok, "failing chains are not kept longer")
		whole, seen := 0, 0
		for i := fail; i < n; i += 100 {
			chain, err := l.dispatch.j.Chain(bg, l.update(i).CID)
			require.NoError(t, err)
			seen++
			var names []string
			for _, e := range chain {
				names = append(names, e.Name())
			}
			if len(names) == 8 && names[0] == string(telemetry.EvQueueEnqueue) && slices.Contains(names, string(telemetry.EvCallbackRejected)) {
				whole++
			}
		}
		require.GreaterOrEqual(t, whole, seen*95/100, "failing chains kept without their ingest (QUEUE_ENQUEUE): %d of %d whole", whole, seen)
	})

	t.Run("a user in debug mode keeps every chain in full", func(t *testing.T) {
		chain, err := l.dispatch.j.Chain(bg, long.CID)
		require.NoError(t, err)
		require.Len(t, chain, 2*MaxEvents, "past MaxEvents")
		for i := int64(7); i < n; i += 500 * 8 { // the debug user's clicks, from the first
			ok, first := kept(i)
			require.True(t, ok, "click %d of the debug user", i)
			require.Equal(t, string(telemetry.EvQueueEnqueue), first.Name())
		}
	})

	t.Run("a chain not kept says it was evicted by the budget", func(t *testing.T) {
		u := l.update(1)
		state, err := l.dispatch.j.readState(bg)
		require.NoError(t, err)
		list, err := l.dispatch.j.lastSeen(bg, state, u.UserID)
		require.NoError(t, err)
		var gone string
		for i := len(list) - 1; i >= 0 && gone == ""; i-- { // oldest first
			if ok, _ := l.dispatch.j.Chain(bg, list[i].cid); len(ok) == 0 {
				gone = list[i].cid
			}
		}
		require.NotEmpty(t, gone, "no evicted chain in the user's last cids")
		note, err := l.dispatch.j.NotKept(bg, gone, u.UserID)
		require.NoError(t, err)
		t.Logf("/debug %d: %s", u.UserID, note)
		require.Regexp(t, `^the chain of [0-9a-f]{8} \(seen .*\) was evicted after \d+s by the journal budget`, note)
		note, err = l.dispatch.j.NotKept(bg, gone, 0)
		require.NoError(t, err)
		t.Logf("trace %s: %s", gone, note)
		require.Contains(t, note, "evicts chains that went well after about")
	})

	// what stays once the journal's keys are gone is Redis' own memory for
	// the writers' connections and scripts, not journal data
	residual := residualAfterDelete(t, c, ns) - base
	t.Logf("INFO used_memory growth left once every journal key is deleted: %d B", residual)
	require.LessOrEqual(t, float64(peakUsed-residual), 1.10*budget, "Redis grew past the budget + 10%")
}

// residualAfterDelete deletes every journal key and returns INFO
// used_memory less the clients' buffers.
func residualAfterDelete(t *testing.T, c *redis.Client, ns string) int64 {
	t.Helper()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, ns+":journal:*", 1000).Iterator()
	var ks []string
	for iter.Next(ctx) {
		ks = append(ks, iter.Val())
	}
	require.NoError(t, iter.Err())
	if len(ks) > 0 {
		require.NoError(t, c.Del(ctx, ks...).Err())
	}
	return usedMemory(t, c)
}
