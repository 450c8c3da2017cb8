package journal

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// runJournal starts j.Run and stops it at cleanup (cancel, then wait).
func runJournal(t *testing.T, j *Journal) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = j.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("Journal.Run did not return")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func flush(t *testing.T, j *Journal) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, j.Flush(ctx))
}

// instance is one Logger with its journal, as an instance of the service
// has them.
type instance struct {
	log *telemetry.Logger
	j   *Journal
	out *logtest.Buffer
}

func newInstance(t *testing.T, o Options, name, role string) instance {
	t.Helper()
	if o.Metrics == nil {
		o.Metrics = metrics.NewTest()
	}
	j := New(o)
	out := &logtest.Buffer{}
	l, err := telemetry.New(telemetry.Options{Format: telemetry.FormatJSON, Level: zapcore.InfoLevel, Instance: name,
		Output: out, Sink: j})
	require.NoError(t, err)
	l.SetRole(func() string { return role })
	j.SetLogger(l)
	runJournal(t, j)
	return instance{log: l, j: j, out: out}
}

func update(n int64) telemetry.Update {
	return telemetry.Update{CID: fmt.Sprintf("%08x", 0x10000000+n), UpdateID: 900000 + n, Type: "callback_query",
		UserID: 5550000 + n%50, ChatID: 5550000 + n%50}
}

// TestChainAcrossInstances: a PASSIVE instance ingests, an ACTIVE one
// dispatches; the chain of the cid holds both, in order, each naming its
// instance, and the user's last cid is it.
func TestChainAcrossInstances(t *testing.T) {
	c, ns := redistest.Client(t)
	o := Options{Client: c, Keys: keys.New(ns)}
	passive := newInstance(t, o, "node-a", telemetry.RolePassive)
	active := newInstance(t, o, "node-b", telemetry.RoleActive)

	u := update(1)
	ctx := telemetry.WithUpdate(context.Background(), u)
	passive.log.QueueEnqueue(ctx, u.Type, 0, 1, "1732834000000-0")
	flush(t, passive.j)
	active.log.QueuePick(ctx, "w1", 0, 1, 4*time.Millisecond)
	active.log.DispatchStart(ctx, 0, 7)
	active.log.CallbackReceived(ctx, "v1|mm|img")
	active.log.CallbackRouted(ctx, "menu.category", "mm_cat_image")
	active.log.CallbackAccepted(ctx, "MODEL_PICK")
	active.log.UIRender(ctx, "MODEL_PICK", []telemetry.ButtonID{"mp_model_1", "mp_model_2", "back"})
	active.log.AnswerCallbackQuery(ctx, "")
	active.log.DispatchOK(ctx, 9*time.Millisecond, 0, 7)
	active.log.LeaseRenewFailed(0, 7, "node-b", nil) // no cid: not journaled
	flush(t, active.j)

	chain, err := active.j.Chain(context.Background(), u.CID)
	require.NoError(t, err)
	var names, instances []string
	for _, e := range chain {
		names = append(names, e.Name())
		instances = append(instances, e.Instance())
		require.Equal(t, u.CID, e.Str(telemetry.FCID))
		n, ok := e.Int(telemetry.FUpdateID)
		require.True(t, ok)
		require.Equal(t, u.UpdateID, n)
	}
	require.Equal(t, []string{"QUEUE_ENQUEUE", "QUEUE_PICK", "DISPATCH_START", "CALLBACK_RECEIVED", "CALLBACK_ROUTED",
		"CALLBACK_ACCEPTED", "UI_RENDER", "ANSWER_CALLBACK_QUERY", "DISPATCH_OK"}, names)
	require.Equal(t, "node-a", instances[0])
	for _, in := range instances[1:] {
		require.Equal(t, "node-b", in)
	}
	require.Equal(t, telemetry.RolePassive, chain[0].Str(telemetry.FRole))
	require.Equal(t, telemetry.RoleActive, chain[1].Str(telemetry.FRole))
	require.Equal(t, "1732834000000-0", chain[0].Str(telemetry.FStreamID))

	cids, err := passive.j.LastCIDs(context.Background(), u.UserID, 5)
	require.NoError(t, err)
	require.Equal(t, []string{u.CID}, cids)
	note, err := passive.j.NotKept(context.Background(), u.CID, u.UserID)
	require.NoError(t, err)
	require.Empty(t, note)

	var table bytes.Buffer
	require.NoError(t, telemetry.WriteTrace(&table, chain, false))
	t.Logf("dispatcher trace %s:\n%s", u.CID, table.String())
	require.Equal(t, int64(0), active.j.Failures()+passive.j.Failures())
}

// TestCapsAndUsers: a chain keeps MaxEvents events per instance and says
// so; a user keeps the last MaxCIDs cids, the cid touched last first.
func TestCapsAndUsers(t *testing.T) {
	c, ns := redistest.Client(t)
	in := newInstance(t, Options{Client: c, Keys: keys.New(ns), TTL: 30 * time.Minute}, "node-a", telemetry.RoleActive)
	bg := context.Background()

	u := update(7)
	ctx := telemetry.WithUpdate(bg, u)
	for i := 0; i < MaxEvents+50; i++ {
		in.log.CallbackReceived(ctx, "e"+strconv.Itoa(i))
	}
	for i := 0; i < MaxCIDs+5; i++ {
		o := u
		o.CID, o.UpdateID = fmt.Sprintf("%08x", i), int64(i)
		in.log.CallbackReceived(telemetry.WithUpdate(bg, o), "x")
		flush(t, in.j)
	}
	time.Sleep(1100 * time.Millisecond) // the users' lists are by the second: the cid becomes the newest
	again := u
	again.CID, again.UpdateID = fmt.Sprintf("%08x", MaxCIDs), int64(MaxCIDs)
	in.log.DispatchOK(telemetry.WithUpdate(bg, again), 0, 0, 1)
	in.log.DispatchOK(ctx, 0, 0, 1) // past the cap: not kept
	flush(t, in.j)

	chain, err := in.j.Chain(bg, u.CID)
	require.NoError(t, err)
	require.Len(t, chain, MaxEvents)
	require.Equal(t, "e0", chain[0].Str(telemetry.FCallbackData))
	note, err := in.j.NotKept(bg, u.CID, u.UserID)
	require.NoError(t, err)
	require.Contains(t, note, "reached 100 events on node-a")

	cids, err := in.j.LastCIDs(bg, u.UserID, 100)
	require.NoError(t, err)
	require.Len(t, cids, MaxCIDs)
	require.Equal(t, again.CID, cids[0])
	require.NotContains(t, cids[1:], again.CID)
	require.NotContains(t, cids, u.CID, "the oldest were dropped")

	for _, k := range segmentKeysOf(t, c, in.j) {
		ttl, err := c.PTTL(bg, k).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, 29*time.Minute, k)
		require.LessOrEqual(t, ttl, 30*time.Minute, k)
	}

	none, err := in.j.Chain(bg, "0badcafe")
	require.NoError(t, err)
	require.Empty(t, none)
	note, err = in.j.NotKept(bg, "0badcafe", 0)
	require.NoError(t, err)
	require.Contains(t, note, "not in the journal")
	_, err = in.j.Chain(bg, "not-a-cid")
	require.ErrorIs(t, err, telemetry.ErrBadCID)
	got, err := in.j.LastCIDs(bg, 12345, 3)
	require.NoError(t, err)
	require.Empty(t, got)
}

// TestADispatchPartLeavesTheUsersListToTheIngest: the part of a chain that
// begins with QUEUE_PICK (a dispatch's) does not write the user's last
// cids: the ingest's part (QUEUE_ENQUEUE), which every dispatched update
// has, did. So a user's list holds a dispatched update once, at its ingest.
func TestADispatchPartLeavesTheUsersListToTheIngest(t *testing.T) {
	c, ns := redistest.Client(t)
	o := Options{Client: c, Keys: keys.New(ns)}
	in := newInstance(t, o, "node-a", telemetry.RoleActive)
	bg := context.Background()
	u := update(3)
	ctx := telemetry.WithUpdate(bg, u)
	in.log.QueuePick(ctx, "w1", 0, 1, time.Millisecond)
	in.log.DispatchStart(ctx, 0, 7)
	in.log.DispatchOK(ctx, time.Millisecond, 0, 7)
	flush(t, in.j)
	chain, err := in.j.Chain(bg, u.CID)
	require.NoError(t, err)
	require.Len(t, chain, 3)
	cids, err := in.j.LastCIDs(bg, u.UserID, 5)
	require.NoError(t, err)
	require.Empty(t, cids, "a dispatch's part alone does not touch the user's list")

	v := update(4)
	vctx := telemetry.WithUpdate(bg, v)
	in.log.QueueEnqueue(vctx, v.Type, 0, 1, "1732834000000-0")
	flush(t, in.j)
	in.log.QueuePick(vctx, "w1", 0, 1, time.Millisecond)
	in.log.DispatchOK(vctx, time.Millisecond, 0, 7)
	flush(t, in.j)
	cids, err = in.j.LastCIDs(bg, v.UserID, 5)
	require.NoError(t, err)
	require.Equal(t, []string{v.CID}, cids)

	// a worker of the ingesting instance may log QUEUE_PICK before the
	// ingest logs QUEUE_ENQUEUE: the part holds both and lists the update
	w := update(5)
	wctx := telemetry.WithUpdate(bg, w)
	in.log.QueuePick(wctx, "w1", 0, 1, 0)
	in.log.QueueEnqueue(wctx, w.Type, 0, 1, "1732834000001-0")
	in.log.DispatchOK(wctx, time.Millisecond, 0, 7)
	flush(t, in.j)
	cids, err = in.j.LastCIDs(bg, w.UserID, 5)
	require.NoError(t, err)
	require.Equal(t, []string{w.CID}, cids)
}

// segmentKeysOf lists the journal's segment keys.
func segmentKeysOf(t *testing.T, c redis.UniversalClient, j *Journal) []string {
	t.Helper()
	st, err := j.readState(context.Background())
	require.NoError(t, err)
	var out []string
	for _, tier := range allTiers {
		for _, s := range st.segs[tier] {
			out = append(out, j.ks.JournalSegment(tier, s.id))
		}
	}
	require.NotEmpty(t, out)
	return out
}

// TestDrainsOnStop: what is held when Run's context ends is still written
// before Run returns.
func TestDrainsOnStop(t *testing.T) {
	c, ns := redistest.Client(t)
	j := New(Options{Client: c, Keys: keys.New(ns)})
	l, err := telemetry.New(telemetry.Options{Output: &logtest.Buffer{}, Instance: "node-a", Sink: j})
	require.NoError(t, err)
	u := update(3)
	for i := 0; i < 300; i++ { // recorded before Run starts
		l.CallbackReceived(telemetry.WithUpdate(context.Background(), u), "x")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run sees a done context at once and drains
	require.NoError(t, j.Run(ctx))
	chain, err := j.Chain(context.Background(), u.CID)
	require.NoError(t, err)
	require.Len(t, chain, MaxEvents)
}

// TestRecordNeverBlocks: with nobody draining the buffer, Record drops and
// counts instead of waiting.
func TestRecordNeverBlocks(t *testing.T) {
	m := metrics.NewTest()
	j := New(Options{Client: redistest.DeadClient(t), Keys: keys.New("t"), Metrics: m})
	l, err := telemetry.New(telemetry.Options{Output: &logtest.Buffer{}, Sink: j})
	require.NoError(t, err)
	ctx := telemetry.WithUpdate(context.Background(), update(1))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < Buffer+25; i++ {
			l.CallbackReceived(ctx, "x")
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked")
	}
	require.Equal(t, int64(25), j.Failures())
	require.Equal(t, 25.0, failuresMetric(t, m))
}

// TestFailuresReportedOncePerMinute: failed writes are counted per event
// and logged as JOURNAL_WRITE_FAILED at most once a minute.
func TestFailuresReportedOncePerMinute(t *testing.T) {
	m := metrics.NewTest()
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	in := newInstance(t, Options{Client: redistest.DeadClient(t), Keys: keys.New("t"), Metrics: m, Now: clock}, "node-a", telemetry.RoleActive)
	ctx := telemetry.WithUpdate(context.Background(), update(1))
	reports := func() int { return len(in.out.Events(string(telemetry.EvJournalError))) }

	for i := 0; i < 3; i++ {
		in.log.CallbackReceived(ctx, "x")
	}
	flush(t, in.j)
	require.Equal(t, int64(3), in.j.Failures())
	require.Eventually(t, func() bool { return reports() == 1 }, 5*time.Second, 10*time.Millisecond)

	for i := 0; i < 4; i++ {
		now.Add(int64(10 * time.Second)) // past the backoff: each write is tried, and fails
		in.log.CallbackReceived(ctx, "x")
		flush(t, in.j)
	}
	require.Equal(t, int64(7), in.j.Failures())
	require.Equal(t, 1, reports(), "a second report within a minute")

	now.Add(int64(61 * time.Second))
	in.log.CallbackReceived(ctx, "x")
	flush(t, in.j)
	require.Eventually(t, func() bool { return reports() == 2 }, 5*time.Second, 10*time.Millisecond)
	var reported int64
	for _, e := range in.out.Events(string(telemetry.EvJournalError)) {
		n, err := strconv.ParseInt(fmt.Sprint(e[telemetry.FFailed]), 10, 64)
		require.NoError(t, err)
		require.Equal(t, "0", fmt.Sprint(e[telemetry.FDropped]))
		require.Equal(t, string(telemetry.ReasonRedisUnavailable), e[telemetry.FReasonCode])
		reported += n
	}
	require.Equal(t, in.j.Failures(), reported)
	require.Equal(t, 8.0, failuresMetric(t, m))
}

// failuresMetric reads dispatcher_journal_dropped_total.
func failuresMetric(t *testing.T, m *metrics.Metrics) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "dispatcher_journal_dropped_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no dispatcher_journal_dropped_total")
	return 0
}
