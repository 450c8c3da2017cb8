package telemetry

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
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
	log *Logger
	j   *Journal
	out *logtest.Buffer
}

func newInstance(t *testing.T, c redis.UniversalClient, ks keys.Space, name, format, role string) instance {
	t.Helper()
	j := NewJournal(c, ks, time.Hour, metrics.NewTest())
	l, out := newTestLogger(t, format, func(o *Options) { o.Instance = name; o.Sink = j })
	l.SetRole(func() string { return role })
	runJournal(t, j)
	return instance{log: l, j: j, out: out}
}

// TestJournalChainAcrossInstances: a PASSIVE instance (kv logs) ingests, an
// ACTIVE one (json logs) dispatches; the chain of the cid holds both, in
// order, each naming its instance, and the user's last cid is it.
func TestJournalChainAcrossInstances(t *testing.T) {
	c, ns := redistest.Client(t)
	ks := keys.New(ns)
	passive := newInstance(t, c, ks, "node-a", FormatKV, RolePassive)
	active := newInstance(t, c, ks, "node-b", FormatJSON, RoleActive)

	u := Update{CID: NewCID(), UpdateID: 5001, Type: "callback_query", UserID: 777, ChatID: 777}
	ctx := WithUpdate(context.Background(), u)
	passive.log.QueueEnqueue(ctx, u.Type, 0, 1, "1732834000000-0")
	flush(t, passive.j)
	active.log.QueuePick(ctx, "w1", 0, 1, 4*time.Millisecond)
	active.log.DispatchStart(ctx, 0, 7)
	active.log.CallbackReceived(ctx, "v1|mm|img")
	active.log.CallbackRouted(ctx, "menu.category", "mm_cat_image")
	active.log.CallbackAccepted(ctx, "MODEL_PICK")
	active.log.UIRender(ctx, "MODEL_PICK", []ButtonID{"mp_model_1", "mp_model_2", "back"})
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
		require.Equal(t, u.CID, e.Str(FCID))
		n, ok := e.Int(FUpdateID)
		require.True(t, ok)
		require.Equal(t, u.UpdateID, n)
	}
	require.Equal(t, []string{"QUEUE_ENQUEUE", "QUEUE_PICK", "DISPATCH_START", "CALLBACK_RECEIVED", "CALLBACK_ROUTED",
		"CALLBACK_ACCEPTED", "UI_RENDER", "ANSWER_CALLBACK_QUERY", "DISPATCH_OK"}, names)
	require.Equal(t, "node-a", instances[0])
	for _, in := range instances[1:] {
		require.Equal(t, "node-b", in)
	}
	require.Equal(t, RolePassive, chain[0].Str(FRole))
	require.Equal(t, RoleActive, chain[1].Str(FRole))

	// the kv logs of the PASSIVE instance hold the cid too: grep cid=<cid>
	require.Contains(t, passive.out.String(), "cid="+u.CID+" ")

	cids, err := passive.j.LastCIDs(context.Background(), u.UserID, 5)
	require.NoError(t, err)
	require.Equal(t, []string{u.CID}, cids)

	var table bytes.Buffer
	require.NoError(t, WriteTrace(&table, chain, false))
	t.Logf("dispatcher trace %s:\n%s", u.CID, table.String())
	require.Equal(t, int64(0), active.j.Failures()+passive.j.Failures())
}

func TestJournalCapsAndExpiry(t *testing.T) {
	c, ns := redistest.Client(t)
	ks := keys.New(ns)
	j := NewJournal(c, ks, 30*time.Minute, nil)
	runJournal(t, j)
	ctx := context.Background()

	cid := NewCID()
	for i := 0; i < JournalMaxEvents+50; i++ {
		j.Record(cid, 9, []byte(fmt.Sprintf(`{"ts":"2026-01-01T00:00:00.000Z","name":"E%03d","cid":%q}`, i, cid)))
	}
	for i := 0; i < JournalMaxCIDs+5; i++ {
		j.Record(fmt.Sprintf("%08x", i), 9, []byte(`{"name":"X"}`))
	}
	j.Record(cid, 9, []byte(`{"ts":"2026-01-01T00:00:00.000Z","name":"LAST"}`)) // cid becomes the newest again
	flush(t, j)

	chain, err := j.Chain(ctx, cid)
	require.NoError(t, err)
	require.Len(t, chain, JournalMaxEvents)
	require.Equal(t, "E051", chain[0].Name()) // the oldest were trimmed
	require.Equal(t, "LAST", chain[len(chain)-1].Name())

	cids, err := j.LastCIDs(ctx, 9, 100)
	require.NoError(t, err)
	require.Len(t, cids, JournalMaxCIDs)
	require.Equal(t, cid, cids[0])
	require.Equal(t, fmt.Sprintf("%08x", JournalMaxCIDs+4), cids[1])
	require.NotContains(t, cids[1:], cid)

	for _, k := range []string{ks.Journal(cid), ks.UserCIDs(9)} {
		ttl, err := c.PTTL(ctx, k).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, 29*time.Minute, k)
		require.LessOrEqual(t, ttl, 30*time.Minute, k)
	}

	none, err := j.Chain(ctx, "0badcafe")
	require.NoError(t, err)
	require.Empty(t, none)
	_, err = j.Chain(ctx, "not-a-cid")
	require.ErrorIs(t, err, ErrBadCID)
	got, err := j.LastCIDs(ctx, 12345, 3)
	require.NoError(t, err)
	require.Empty(t, got)
}

// TestJournalDrainsOnStop: what is queued when Run's context ends is still
// written before Run returns.
func TestJournalDrainsOnStop(t *testing.T) {
	c, ns := redistest.Client(t)
	j := NewJournal(c, keys.New(ns), time.Hour, nil)
	cid := NewCID()
	for i := 0; i < 300; i++ { // queued before Run starts
		j.Record(cid, 0, []byte(`{"name":"E"}`))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run sees a done context at once and drains
	require.NoError(t, j.Run(ctx))
	chain, err := j.Chain(context.Background(), cid)
	require.NoError(t, err)
	require.Len(t, chain, JournalMaxEvents)
}

// deadClient is a client of an address nobody listens on, failing fast.
func deadClient(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)),
		MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestJournalNeverBlocks: with nobody draining the buffer, Record drops and
// counts instead of waiting.
func TestJournalNeverBlocks(t *testing.T) {
	m := metrics.NewTest()
	j := NewJournal(deadClient(t), keys.New("t"), 0, m)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < JournalBuffer+25; i++ {
			j.Record("a1b2c3d4", 1, []byte(`{}`))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked")
	}
	require.Equal(t, int64(25), j.Failures())
	require.Equal(t, 25.0, journalFailuresMetric(t, m))
}

// TestJournalFailuresReportedOncePerMinute: failed writes are counted per
// event and logged as JOURNAL_WRITE_FAILED at most once a minute.
func TestJournalFailuresReportedOncePerMinute(t *testing.T) {
	m := metrics.NewTest()
	j := NewJournal(deadClient(t), keys.New("t"), time.Hour, m)
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	j.now = func() time.Time { return time.Unix(0, now.Load()) }
	l, out := newTestLogger(t, FormatKV, func(o *Options) { o.Sink = j })
	runJournal(t, j)
	ctx := WithUpdate(context.Background(), testUpdate)
	reports := func() int { return strings.Count(out.String(), "name="+string(EvJournalError)+" ") }

	for i := 0; i < 3; i++ {
		l.CallbackReceived(ctx, "x")
	}
	flush(t, j)
	require.Equal(t, int64(3), j.Failures())
	waitFor(t, 5*time.Second, func() bool { return reports() == 1 })

	for i := 0; i < 4; i++ {
		l.CallbackReceived(ctx, "x")
		flush(t, j) // the report after each write happens before the next write
	}
	require.Equal(t, int64(7), j.Failures())
	require.Equal(t, 1, reports(), "a second report within a minute")

	now.Add(int64(61 * time.Second))
	l.CallbackReceived(ctx, "x")
	flush(t, j)
	waitFor(t, 5*time.Second, func() bool { return reports() == 2 })
	// every failure is reported once: the two reports add up to the total
	// (how the first 3 split between them depends on how they were batched)
	var reported int64
	for _, line := range splitLines(t, out.String()) {
		p, err := parseLine(FormatKV, line)
		require.NoError(t, err)
		if p.get(FName) == string(EvJournalError) {
			n, err := strconv.ParseInt(p.get(FFailed), 10, 64)
			require.NoError(t, err)
			require.Equal(t, "0", p.get(FDropped))
			require.Equal(t, string(ReasonRedisUnavailable), p.get(FReasonCode))
			reported += n
		}
	}
	require.Equal(t, j.Failures(), reported)
	require.Equal(t, 8.0, journalFailuresMetric(t, m))
	t.Logf("journal failure report:\n%s", out.String())
}

// journalFailuresMetric reads dispatcher_journal_dropped_total.
func journalFailuresMetric(t *testing.T, m *metrics.Metrics) float64 {
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

// waitFor polls cond every 10 ms until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, bounded by the deadline above
	}
}

func TestJournalWithNopLoggerLevel(t *testing.T) {
	// events below the level are neither written nor journaled
	sink := &recordSink{}
	l, _ := newTestLogger(t, FormatJSON, func(o *Options) { o.Sink = sink; o.Level = zapcore.WarnLevel })
	ctx := WithUpdate(context.Background(), testUpdate)
	l.CallbackReceived(ctx, "x")
	l.CallbackRejected(ctx, ReasonStateMismatch, "expired", "A", "B")
	l.LeaseLost(0, 1, "x", "gone") // no cid
	require.Len(t, sink.lines, 1)
	e, err := DecodeEvent([]byte(sink.lines[0]))
	require.NoError(t, err)
	require.Equal(t, string(EvCallbackRejected), e.Name())
}
