// Package metrics defines every Prometheus series of the dispatcher, named by
// the Prometheus conventions (namespace dispatcher_, base units, _total for
// counters). Components take a *Metrics; a nil *Metrics is not allowed, use
// New(prometheus.NewRegistry()) or NewTest() in tests.
//
// What it guarantees (docs/operations.md, "Metrics"):
//   - Every dispatcher_ series carries redis_namespace (REDIS_NAMESPACE), so
//     two bots in one Prometheus never mix; dispatcher_build_info adds the
//     version and commit, INSTANCE_ID and the bot's username for joins.
//   - Every labelled counter exists at 0 from the start for each label value
//     the instance can emit (Options lists them), so increase() sees the
//     first event: a counter born at 1 looks like no change.
//   - Nothing is exported per shard by every instance. A shard's queue gauges
//     and lease gauges come only from the instance holding the shard's lease
//     (ACTIVE), counters have no shard label, and histograms have one only
//     with Options.ShardLabels (METRICS_SHARD_LABELS). At SHARDS=1024 an
//     instance exports about a thousand series for the shards it holds, not
//     tens of thousands.
//   - Gauges that describe the deployment rather than the instance (Redis
//     memory; later the webhook as Telegram sees it) come from one exporter:
//     the instance holding shard 0's lease (SetDeployment / ForgetDeployment).
package metrics

import (
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const ns = "dispatcher"

// Label values of the lease series.
const (
	RoleActive  = "ACTIVE"
	RolePassive = "PASSIVE"
)

// Label values of dispatcher_callback_answers_total.
const (
	AnsweredByHandler = "handler"
	AnsweredByGuard   = "guard"
)

// WebhookCodes are the statuses the webhook answers (CONTRACT §3): the code
// label of dispatcher_webhook_request_duration_seconds exists for each from
// the start.
var WebhookCodes = []int{200, 400, 401, 405, 413, 503}

// Options describe the instance. The label value lists are the values the
// instance can emit; each labelled counter is created at 0 for each of them.
type Options struct {
	Namespace string // REDIS_NAMESPACE: label redis_namespace of every dispatcher_ series ("" none)
	Instance  string // INSTANCE_ID, on dispatcher_build_info
	Version   string // the build's version (internal/version), on dispatcher_build_info
	Commit    string // the build's commit, on dispatcher_build_info
	Shards    int    // SHARDS, the value of dispatcher_shards

	// ShardLabels (METRICS_SHARD_LABELS) adds the shard label to the
	// dispatch histograms; off by default, for cardinality.
	ShardLabels bool

	UpdateTypes    []string // update_type of dispatcher_updates_enqueued_total
	WebhookReasons []string // reason of dispatcher_webhook_rejections_total
	ErrorTypes     []string // error_type of dispatch and Telegram failures
}

// Metrics holds the collectors.
type Metrics struct {
	Registry *prometheus.Registry
	opts     Options

	// ingest
	UpdatesEnqueued   *prometheus.CounterVec   // update_type
	Duplicates        prometheus.Counter       //
	WebhookRejections *prometheus.CounterVec   // reason
	WebhookRequests   *prometheus.HistogramVec // code

	// dispatch
	DispatchDuration *prometheus.HistogramVec // outcome (shard with ShardLabels)
	DispatchWait     *prometheus.HistogramVec // (shard with ShardLabels)
	HandlerDuration  *prometheus.HistogramVec // handler (the router's route name)
	DispatchFailures *prometheus.CounterVec   // error_type
	DeadLetters      prometheus.Counter
	JobsRefused      prometheus.Counter // jobs refused at the jobs stream's cap (fsm.ErrJobsFull)
	PassiveRejects   prometheus.Counter

	// queue gauges of the shards this instance holds (queue.RefreshGauges)
	QueueLength   *prometheus.GaugeVec // shard
	QueuePending  *prometheus.GaugeVec // shard
	OldestPending *prometheus.GaugeVec // shard (seconds)
	DLQLength     *prometheus.GaugeVec // shard

	// leases: LeaseHeld and LeaseLost keep these
	LeaseRole        *prometheus.GaugeVec   // shard: 1, only for the shards held
	LeaseToken       *prometheus.GaugeVec   // shard: only for the shards held
	LeaseTransitions *prometheus.CounterVec // role
	Shards           prometheus.Gauge

	// Telegram: TelegramError keeps TelegramErrors and TelegramFailures
	TelegramErrors   *prometheus.CounterVec // method, code
	TelegramFailures *prometheus.CounterVec // error_type
	TelegramRequests *prometheus.CounterVec // method

	// JournalFailures counts journal events not kept: dropped with the
	// buffer full or lost in a failed write (dispatcher_journal_dropped_total).
	JournalFailures prometheus.Counter
	CallbackAnswers *prometheus.CounterVec // by (guard|handler)
	SilenceWarnings prometheus.Counter

	// deployment gauges, from the holder of shard 0 only
	RedisMemoryUsed *prometheus.GaugeVec // no labels: present only while exported
	RedisMemoryMax  *prometheus.GaugeVec
	// the webhook as Telegram sees it (getWebhookInfo, telegramwebhook.go)
	TelegramWebhookPending   *prometheus.GaugeVec // no labels
	TelegramWebhookLastError *prometheus.GaugeVec // reason
	TelegramWebhookURLMatch  *prometheus.GaugeVec // no labels
	TelegramWebhookChecked   *prometheus.GaugeVec // no labels

	buildInfo *prometheus.GaugeVec // version, commit, goversion, instance_id, bot
	mu        sync.Mutex
	bot       string
}

// Buckets of the dispatch and handler histograms (seconds).
var dispatchBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Buckets of the webhook histogram: a healthy webhook answers in about a
// millisecond; 2 s is ingest's own deadline.
var webhookBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// Buckets of the enqueue-to-dispatch wait: from a busy chat's queueing to a
// failover (LEASE_TTL) and retries.
var waitBuckets = []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// New creates the collectors of an instance without label value lists (one
// shard, no namespace) and registers them, with the Go and process
// collectors, on reg.
func New(reg *prometheus.Registry) *Metrics { return NewWith(reg, Options{Shards: 1}) }

// NewTest returns Metrics on a fresh registry.
func NewTest() *Metrics { return New(prometheus.NewRegistry()) }

// NewWith creates the collectors of the instance o describes, registers
// them on reg and creates every labelled counter at 0 for o's lists.
func NewWith(reg *prometheus.Registry, o Options) *Metrics {
	m := &Metrics{Registry: reg, opts: o}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help})
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	}
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help,
			Buckets: buckets}, labels)
	}
	var shard []string
	if o.ShardLabels {
		shard = []string{"shard"}
	}

	m.UpdatesEnqueued = counterVec("updates_enqueued_total", "Updates appended to a shard stream, by update type.", "update_type")
	m.Duplicates = counter("updates_duplicate_total", "Updates dropped as a repeat of an update_id within DEDUPE_WINDOW.")
	m.WebhookRejections = counterVec("webhook_rejections_total", "Webhook requests refused, by reason code.", "reason")
	m.WebhookRequests = histogram("webhook_request_duration_seconds",
		"Webhook requests by answered status and the time to answer them (the _count is the SLO denominator).",
		webhookBuckets, "code")
	m.DispatchDuration = histogram("dispatch_duration_seconds", "Duration of one dispatch (handler run), by outcome.",
		dispatchBuckets, append(append([]string(nil), shard...), "outcome")...)
	m.DispatchWait = histogram("dispatch_wait_seconds",
		"Time from an update's enqueue to the start of its dispatch (a redelivery counts from the first enqueue).",
		waitBuckets, shard...)
	m.HandlerDuration = histogram("handler_duration_seconds", "Duration of one routed handler of the bot, by route.",
		dispatchBuckets, "handler")
	m.DispatchFailures = counterVec("dispatch_failures_total", "Failed dispatches, by error type (docs/telemetry.md).", "error_type")
	m.DeadLetters = counter("dead_letters_total", "Updates moved to the dead-letter stream.")
	m.JobsRefused = counter("jobs_refused_total", "Jobs refused because the shard's jobs stream holds its cap of jobs not yet read and acknowledged by every consumer group.")
	m.PassiveRejects = counter("passive_rejects_total", "Entries left for the ACTIVE instance because this one was not ACTIVE.")
	m.QueueLength = gaugeVec("queue_length", "Entries in a shard stream (pending included); from the shard's ACTIVE instance.", "shard")
	m.QueuePending = gaugeVec("queue_pending", "Entries delivered but not acknowledged; from the shard's ACTIVE instance.", "shard")
	m.OldestPending = gaugeVec("queue_oldest_pending_age_seconds", "Age of the oldest entry not yet acknowledged; from the shard's ACTIVE instance.", "shard")
	m.DLQLength = gaugeVec("dead_letter_queue_length", "Entries in a shard's dead-letter stream; from the shard's ACTIVE instance.", "shard")
	m.LeaseRole = gaugeVec("lease_active", "1 while this instance holds the shard's lease; absent otherwise.", "shard")
	m.LeaseToken = gaugeVec("lease_token", "Fencing token of the lease this instance holds; absent otherwise.", "shard")
	m.LeaseTransitions = counterVec("lease_transitions_total", "Role changes of this instance's shards, by new role.", "role")
	m.Shards = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "shards", Help: "SHARDS of this instance: the shards the deployment must have ACTIVE."})
	m.TelegramErrors = counterVec("telegram_api_errors_total", "Failed Bot API attempts, by method and code (0: no answer).", "method", "code")
	m.TelegramFailures = counterVec("telegram_api_failures_total", "Failed Bot API attempts, by error type (TELEGRAM_*).", "error_type")
	m.TelegramRequests = counterVec("telegram_api_requests_total", "Bot API calls made, by method.", "method")
	m.JournalFailures = counter("journal_dropped_total", "Journal events not kept: dropped with the buffer full or lost in a failed write.")
	m.CallbackAnswers = counterVec("callback_answers_total", "Callback queries answered, by who answered.", "by")
	m.SilenceWarnings = counter("silence_warnings_total", "Callbacks the silence guard had to answer.")
	m.RedisMemoryUsed = gaugeVec("redis_memory_used_bytes", "Redis used_memory (the fullest master in a Cluster); from the holder of shard 0.")
	m.RedisMemoryMax = gaugeVec("redis_memory_max_bytes", "Redis maxmemory (0: no limit) of the same node; from the holder of shard 0.")
	m.TelegramWebhookPending = gaugeVec("telegram_webhook_pending_updates",
		"getWebhookInfo's pending_update_count: updates Telegram holds for the webhook; from the holder of shard 0.")
	m.TelegramWebhookLastError = gaugeVec("telegram_webhook_last_error_timestamp_seconds",
		"getWebhookInfo's last_error_date (0: none), labelled with the class of last_error_message; from the holder of shard 0.", "reason")
	m.TelegramWebhookURLMatch = gaugeVec("telegram_webhook_url_match",
		"1 when the webhook Telegram delivers to is WEBHOOK_URL (unset: any URL on WEBHOOK_PATH), else 0; from the holder of shard 0.")
	m.TelegramWebhookChecked = gaugeVec("telegram_webhook_checked_timestamp_seconds",
		"When getWebhookInfo last answered; from the holder of shard 0.")
	m.buildInfo = gaugeVec("build_info", "1, labelled with the build and the instance: join on it for version, INSTANCE_ID and bot.",
		"version", "commit", "goversion", "instance_id", "bot")

	own := prometheus.Registerer(reg)
	if o.Namespace != "" {
		own = prometheus.WrapRegistererWith(prometheus.Labels{"redis_namespace": o.Namespace}, reg)
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	own.MustRegister(
		m.UpdatesEnqueued, m.Duplicates, m.WebhookRejections, m.WebhookRequests, m.DispatchDuration, m.DispatchWait,
		m.HandlerDuration, m.DispatchFailures, m.DeadLetters, m.JobsRefused, m.PassiveRejects, m.QueueLength, m.QueuePending,
		m.OldestPending, m.DLQLength, m.LeaseRole, m.LeaseToken, m.LeaseTransitions, m.Shards, m.TelegramErrors,
		m.TelegramFailures, m.TelegramRequests, m.JournalFailures, m.CallbackAnswers, m.SilenceWarnings,
		m.RedisMemoryUsed, m.RedisMemoryMax, m.TelegramWebhookPending, m.TelegramWebhookLastError,
		m.TelegramWebhookURLMatch, m.TelegramWebhookChecked, m.buildInfo,
	)
	m.preset()
	return m
}

// preset creates every labelled counter at 0 for the values the instance
// can emit, sets dispatcher_shards and dispatcher_build_info.
func (m *Metrics) preset() {
	for _, v := range m.opts.UpdateTypes {
		m.UpdatesEnqueued.WithLabelValues(v)
	}
	for _, v := range m.opts.WebhookReasons {
		m.WebhookRejections.WithLabelValues(v)
	}
	for _, c := range WebhookCodes {
		m.WebhookRequests.WithLabelValues(strconv.Itoa(c))
	}
	for _, v := range m.opts.ErrorTypes {
		m.DispatchFailures.WithLabelValues(v)
		if strings.HasPrefix(v, "TELEGRAM_") {
			m.TelegramFailures.WithLabelValues(v)
		}
	}
	m.LeaseTransitions.WithLabelValues(RoleActive)
	m.LeaseTransitions.WithLabelValues(RolePassive)
	m.CallbackAnswers.WithLabelValues(AnsweredByHandler)
	m.CallbackAnswers.WithLabelValues(AnsweredByGuard)
	m.Shards.Set(float64(m.opts.Shards))
	m.SetBot("")
}

// SetBot sets the bot's username on dispatcher_build_info (known after
// getMe; "" until then or in sandbox mode without one).
func (m *Metrics) SetBot(username string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	version := m.opts.Version
	if version == "" {
		version = "dev"
	}
	m.buildInfo.Reset()
	m.bot = username
	m.buildInfo.WithLabelValues(version, m.opts.Commit, runtime.Version(), m.opts.Instance, username).Set(1)
}

// ObserveDispatch records one dispatch of shard (its label) that ended with
// outcome (ok, error, timeout, panic, cancelled) after d.
func (m *Metrics) ObserveDispatch(shard, outcome string, d time.Duration) {
	if m.opts.ShardLabels {
		m.DispatchDuration.WithLabelValues(shard, outcome).Observe(d.Seconds())
		return
	}
	m.DispatchDuration.WithLabelValues(outcome).Observe(d.Seconds())
}

// ObserveWait records the wait of an update of shard from its enqueue to
// the start of this dispatch.
func (m *Metrics) ObserveWait(shard string, d time.Duration) {
	if m.opts.ShardLabels {
		m.DispatchWait.WithLabelValues(shard).Observe(d.Seconds())
		return
	}
	m.DispatchWait.WithLabelValues().Observe(d.Seconds())
}

// LeaseHeld records that this instance won shard's lease with token.
func (m *Metrics) LeaseHeld(shard string, token int64) {
	m.LeaseRole.WithLabelValues(shard).Set(1)
	m.LeaseToken.WithLabelValues(shard).Set(float64(token))
	m.LeaseTransitions.WithLabelValues(RoleActive).Inc()
}

// LeaseLost records that this instance no longer holds shard's lease: its
// lease and queue series go (the new holder exports them).
func (m *Metrics) LeaseLost(shard string) {
	m.LeaseRole.DeleteLabelValues(shard)
	m.LeaseToken.DeleteLabelValues(shard)
	m.ForgetShard(shard)
	m.LeaseTransitions.WithLabelValues(RolePassive).Inc()
}

// ForgetShard removes the queue gauges of shard, which this instance does
// not hold (any more).
func (m *Metrics) ForgetShard(shard string) {
	for _, g := range []*prometheus.GaugeVec{m.QueueLength, m.QueuePending, m.OldestPending, m.DLQLength} {
		g.DeleteLabelValues(shard)
	}
}

// TelegramError counts one failed Bot API attempt of method with status
// (0: no answer) as errType, one of the TELEGRAM_* error types.
func (m *Metrics) TelegramError(method string, status int, errType string) {
	m.TelegramErrors.WithLabelValues(method, strconv.Itoa(status)).Inc()
	m.TelegramFailures.WithLabelValues(errType).Inc()
}

// SetDeployment sets the deployment gauges (this instance holds shard 0):
// Redis used_memory and maxmemory.
func (m *Metrics) SetDeployment(redisUsed, redisMax int64) {
	m.RedisMemoryUsed.WithLabelValues().Set(float64(redisUsed))
	m.RedisMemoryMax.WithLabelValues().Set(float64(redisMax))
}

// ForgetDeployment removes the deployment gauges (shard 0 is held
// elsewhere, or Redis could not be read).
func (m *Metrics) ForgetDeployment() {
	m.RedisMemoryUsed.Reset()
	m.RedisMemoryMax.Reset()
}
