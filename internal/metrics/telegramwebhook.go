package metrics

import "time"

// TelegramWebhook is one getWebhookInfo answer, as the gauges show it.
type TelegramWebhook struct {
	Pending       int
	LastErrorDate int64  // Unix seconds; 0: none
	Reason        string // class of last_error_message (webhookcheck.Reasons)
	URLMatch      bool
	Checked       time.Time
}

// SetTelegramWebhook sets the dispatcher_telegram_webhook_* gauges (this
// instance holds shard 0 and asked getWebhookInfo); the last-error series
// carries only the current reason.
func (m *Metrics) SetTelegramWebhook(w TelegramWebhook) {
	m.TelegramWebhookPending.WithLabelValues().Set(float64(w.Pending))
	m.TelegramWebhookLastError.Reset()
	m.TelegramWebhookLastError.WithLabelValues(w.Reason).Set(float64(w.LastErrorDate))
	match := 0.0
	if w.URLMatch {
		match = 1
	}
	m.TelegramWebhookURLMatch.WithLabelValues().Set(match)
	m.TelegramWebhookChecked.WithLabelValues().Set(float64(w.Checked.UnixMilli()) / 1000)
}

// ForgetTelegramWebhook removes those gauges (shard 0 is held elsewhere, or
// the check stopped).
func (m *Metrics) ForgetTelegramWebhook() {
	m.TelegramWebhookPending.Reset()
	m.TelegramWebhookLastError.Reset()
	m.TelegramWebhookURLMatch.Reset()
	m.TelegramWebhookChecked.Reset()
}
