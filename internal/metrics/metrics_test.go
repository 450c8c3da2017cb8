package metrics

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

var testOpts = Options{Namespace: "tgd", Instance: "a", Version: "v1.2.3", Shards: 1024,
	UpdateTypes: []string{"message", "callback_query"}, WebhookReasons: []string{"UNAUTHORIZED", "REDIS_UNAVAILABLE"},
	ErrorTypes: []string{"HANDLER_ERROR", "TELEGRAM_401", "TELEGRAM_429"}}

// series gathers reg and returns the number of series by family.
func series(t *testing.T, reg *prometheus.Registry) (map[string]int, int) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	by, total := map[string]int{}, 0
	for _, mf := range mfs {
		n := 0
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetHistogram() != nil:
				n += len(m.GetHistogram().GetBucket()) + 3 // buckets, +Inf, _sum, _count
			case m.GetSummary() != nil:
				n += len(m.GetSummary().GetQuantile()) + 2
			default:
				n++
			}
		}
		by[mf.GetName()] = n
		total += n
	}
	return by, total
}

// TestCountersExistAtZero: every labelled counter exists at 0 from the
// start for each value the instance can emit, so the first event is an
// increase; every series carries redis_namespace.
func TestCountersExistAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewWith(reg, testOpts)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	want := map[string]int{
		"dispatcher_updates_enqueued_total":      2,
		"dispatcher_webhook_rejections_total":    2,
		"dispatcher_dispatch_failures_total":     3,
		"dispatcher_telegram_api_failures_total": 2, // the TELEGRAM_* ones
		"dispatcher_lease_transitions_total":     2,
		"dispatcher_callback_answers_total":      2,
		"dispatcher_dead_letters_total":          1,
		"dispatcher_passive_rejects_total":       1,
		"dispatcher_jobs_refused_total":          1,
		"dispatcher_journal_dropped_total":       1,
		"dispatcher_updates_duplicate_total":     1,
		"dispatcher_silence_warnings_total":      1,
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		if len(name) < 11 || name[:11] != "dispatcher_" {
			continue
		}
		for _, m := range mf.GetMetric() {
			ns := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "redis_namespace" {
					ns = l.GetValue()
				}
			}
			require.Equal(t, "tgd", ns, "%s without redis_namespace", name)
			if c := m.GetCounter(); c != nil {
				require.Zero(t, c.GetValue(), name)
			}
		}
		if n, ok := want[name]; ok {
			require.Len(t, mf.GetMetric(), n, name)
			seen[name] = true
		}
	}
	require.Len(t, seen, len(want), "every counter family present")
}

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewWith(reg, testOpts)
	m.SetBot("shop_bot")
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "dispatcher_build_info" {
			continue
		}
		require.Len(t, mf.GetMetric(), 1, "one build_info series, the bot's username replaces the empty one")
		labels := map[string]string{}
		for _, l := range mf.GetMetric()[0].GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		require.Equal(t, "shop_bot", labels["bot"])
		require.Equal(t, "v1.2.3", labels["version"])
		require.Equal(t, "a", labels["instance_id"])
		require.Equal(t, "tgd", labels["redis_namespace"])
		require.NotEmpty(t, labels["goversion"])
		return
	}
	t.Fatal("no dispatcher_build_info")
}

// TestLeaseAndQueueSeriesOnlyWhileHeld: a shard's lease and queue gauges
// exist only on the instance holding it.
func TestLeaseAndQueueSeriesOnlyWhileHeld(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewWith(reg, testOpts)
	m.LeaseHeld("7", 42)
	m.QueueLength.WithLabelValues("7").Set(3)
	by, _ := series(t, reg)
	require.Equal(t, 1, by["dispatcher_lease_active"])
	require.Equal(t, 1, by["dispatcher_queue_length"])
	m.LeaseLost("7")
	by, _ = series(t, reg)
	require.Zero(t, by["dispatcher_lease_active"])
	require.Zero(t, by["dispatcher_lease_token"])
	require.Zero(t, by["dispatcher_queue_length"])
}

func TestInstrumentWebhook(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewWith(reg, testOpts)
	h := m.InstrumentWebhook(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fail") != "" {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	for _, q := range []string{"", "", "?fail=1"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/webhook"+q, nil))
	}
	count := func(code string) uint64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() != "dispatcher_webhook_request_duration_seconds" {
				continue
			}
			for _, s := range mf.GetMetric() {
				for _, l := range s.GetLabel() {
					if l.GetName() == "code" && l.GetValue() == code {
						return s.GetHistogram().GetSampleCount()
					}
				}
			}
		}
		return 0
	}
	require.EqualValues(t, 2, count("200"))
	require.EqualValues(t, 1, count("503"))
}

// TestSeriesAt1024Shards: the series of one instance at SHARDS=1024 after
// traffic that touched every shard it holds, every outcome, code and 20
// routes: 6 per shard held (lease and queue gauges), a few hundred besides.
// With METRICS_SHARD_LABELS the dispatch histograms add about 34 per shard
// and outcome. The figures are the ones docs/operations.md reports.
func TestSeriesAt1024Shards(t *testing.T) {
	for _, c := range []struct {
		held        int
		shardLabels bool
		max         int
	}{{1024, false, 7000}, {256, false, 2500}, {256, true, 12000}} {
		reg := prometheus.NewRegistry()
		o := testOpts
		o.ShardLabels = c.shardLabels
		m := NewWith(reg, o)
		for n := 0; n < c.held; n++ {
			s := strconv.Itoa(n)
			m.LeaseHeld(s, int64(n+1))
			m.QueueLength.WithLabelValues(s).Set(1)
			m.QueuePending.WithLabelValues(s).Set(1)
			m.OldestPending.WithLabelValues(s).Set(1)
			m.DLQLength.WithLabelValues(s).Set(0)
			m.ObserveDispatch(s, "ok", time.Millisecond)
			m.ObserveWait(s, time.Millisecond)
		}
		for _, outcome := range []string{"error", "timeout", "panic", "cancelled"} {
			m.ObserveDispatch("0", outcome, time.Millisecond)
		}
		for r := 0; r < 20; r++ {
			m.HandlerDuration.WithLabelValues("route" + strconv.Itoa(r)).Observe(0.001)
		}
		for _, method := range []string{"sendMessage", "editMessageText", "answerCallbackQuery", "getMe"} {
			m.TelegramRequests.WithLabelValues(method).Inc()
			m.TelegramError(method, 429, "TELEGRAM_429")
		}
		by, total := series(t, reg)
		t.Logf("held %d of 1024 shards, shard labels %v: %d series (lease_active %d, queue_length %d, dispatch_duration %d)",
			c.held, c.shardLabels, total, by["dispatcher_lease_active"], by["dispatcher_queue_length"], by["dispatcher_dispatch_duration_seconds"])
		require.LessOrEqual(t, total, c.max)
	}
}
