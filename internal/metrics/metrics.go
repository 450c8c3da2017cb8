// Package metrics defines every Prometheus series of the dispatcher, named by
// the Prometheus conventions (namespace dispatcher_, base units, _total for
// counters). Components take a *Metrics; a nil *Metrics is not allowed, use
// New(prometheus.NewRegistry()) in tests.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const ns = "dispatcher"

// Metrics holds the collectors. Gauges that describe Redis state (queue
// length, pending, oldest pending age, dead letters) are set by the
// component that reads them periodically.
type Metrics struct {
	Registry *prometheus.Registry

	UpdatesEnqueued   *prometheus.CounterVec   // shard, update_type
	Duplicates        *prometheus.CounterVec   // shard
	WebhookRejections *prometheus.CounterVec   // reason
	DispatchDuration  *prometheus.HistogramVec // shard, outcome
	DispatchFailures  *prometheus.CounterVec   // shard, error_type
	DeadLetters       *prometheus.CounterVec   // shard
	PassiveRejects    *prometheus.CounterVec   // shard
	QueueLength       *prometheus.GaugeVec     // shard
	QueuePending      *prometheus.GaugeVec     // shard
	OldestPending     *prometheus.GaugeVec     // shard (seconds)
	DLQLength         *prometheus.GaugeVec     // shard
	LeaseRole         *prometheus.GaugeVec     // shard (1 ACTIVE, 0 PASSIVE)
	LeaseToken        *prometheus.GaugeVec     // shard
	LeaseTransitions  *prometheus.CounterVec   // shard, to
	TelegramErrors    *prometheus.CounterVec   // method, code
	TelegramRequests  *prometheus.CounterVec   // method
	JournalFailures   prometheus.Counter
	CallbackAnswers   *prometheus.CounterVec // by (guard|handler)
	SilenceWarnings   prometheus.Counter
}

// New creates the collectors and registers them, with the Go and process
// collectors, on reg.
func New(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		Registry: reg,
		UpdatesEnqueued: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "updates_enqueued_total", Help: "Updates appended to a shard stream."}, []string{"shard", "update_type"}),
		Duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "updates_duplicate_total", Help: "Updates dropped as a repeat of an update_id within DEDUPE_WINDOW."}, []string{"shard"}),
		WebhookRejections: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "webhook_rejections_total", Help: "Webhook requests refused, by reason code."}, []string{"reason"}),
		DispatchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns,
			Name: "dispatch_duration_seconds", Help: "Duration of one dispatch (handler run).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"shard", "outcome"}),
		DispatchFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "dispatch_failures_total", Help: "Failed dispatches, by error type."}, []string{"shard", "error_type"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "dead_letters_total", Help: "Updates moved to the dead-letter stream."}, []string{"shard"}),
		PassiveRejects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "passive_rejects_total", Help: "Entries left for the ACTIVE instance because this one was not ACTIVE."}, []string{"shard"}),
		QueueLength: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns,
			Name: "queue_length", Help: "Entries in a shard stream (pending included)."}, []string{"shard"}),
		QueuePending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns,
			Name: "queue_pending", Help: "Entries delivered but not acknowledged."}, []string{"shard"}),
		OldestPending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns,
			Name: "queue_oldest_pending_age_seconds", Help: "Age of the oldest entry not yet acknowledged."}, []string{"shard"}),
		DLQLength: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns,
			Name: "dead_letter_queue_length", Help: "Entries in a shard's dead-letter stream."}, []string{"shard"}),
		LeaseRole: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns,
			Name: "lease_active", Help: "1 while this instance holds the shard's lease."}, []string{"shard"}),
		LeaseToken: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns,
			Name: "lease_token", Help: "Fencing token of the lease held (0 when PASSIVE)."}, []string{"shard"}),
		LeaseTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "lease_transitions_total", Help: "Role changes of this instance, by new role."}, []string{"shard", "role"}),
		TelegramErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "telegram_api_errors_total", Help: "Failed Bot API calls, by method and code."}, []string{"method", "code"}),
		TelegramRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "telegram_api_requests_total", Help: "Bot API calls made, by method."}, []string{"method"}),
		JournalFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns,
			Name: "journal_write_failures_total", Help: "Event journal writes that failed or were dropped."}),
		CallbackAnswers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "callback_answers_total", Help: "Callback queries answered, by who answered."}, []string{"by"}),
		SilenceWarnings: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns,
			Name: "silence_warnings_total", Help: "Callbacks the silence guard had to answer."}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.UpdatesEnqueued, m.Duplicates, m.WebhookRejections, m.DispatchDuration, m.DispatchFailures,
		m.DeadLetters, m.PassiveRejects, m.QueueLength, m.QueuePending, m.OldestPending, m.DLQLength,
		m.LeaseRole, m.LeaseToken, m.LeaseTransitions, m.TelegramErrors, m.TelegramRequests,
		m.JournalFailures, m.CallbackAnswers, m.SilenceWarnings,
	)
	return m
}

// NewTest returns Metrics on a fresh registry.
func NewTest() *Metrics { return New(prometheus.NewRegistry()) }
