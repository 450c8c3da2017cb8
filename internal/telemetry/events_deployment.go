package telemetry

// ---- the deployment's identity and Telegram's view of the webhook (issue 24) ----

// Events.
const (
	// EvDeploymentRefused: this instance's mode (real or sandbox) or bot
	// differs from the one its deployment recorded in Redis, so it refuses
	// to start (exit 2) before it registers or takes any lease.
	EvDeploymentRefused Event = "DEPLOYMENT_REFUSED"
	// EvWebhookUnhealthy: the webhook check (the holder of shard 0 polling
	// getWebhookInfo) found Telegram reporting a new delivery error, or a
	// webhook URL other than the configured one, or could not ask.
	EvWebhookUnhealthy Event = "TELEGRAM_WEBHOOK_UNHEALTHY"
)

// Reason codes.
const (
	// ReasonModeMismatch: this instance runs in sandbox mode and the
	// deployment in real mode (or the other way round), or a sandbox
	// instance met a namespace an older version used without recording its
	// mode.
	ReasonModeMismatch Reason = "MODE_MISMATCH"
	// ReasonBotMismatch: this instance's bot (getMe's id) is not the bot the
	// deployment recorded.
	ReasonBotMismatch Reason = "BOT_MISMATCH"
	// ReasonWebhookDeliveryFailed: getWebhookInfo reports a delivery error
	// newer than the last one seen (last_error_date, last_error_message).
	ReasonWebhookDeliveryFailed Reason = "WEBHOOK_DELIVERY_FAILED"
	// ReasonWebhookURLMismatch: the webhook Telegram delivers to is not
	// WEBHOOK_URL (or not on WEBHOOK_PATH when WEBHOOK_URL is unset), or
	// none is set.
	ReasonWebhookURLMismatch Reason = "WEBHOOK_URL_MISMATCH"
)

// Fields.
const (
	// FURL is a webhook URL as Telegram reports it (TELEGRAM_WEBHOOK_UNHEALTHY).
	FURL = "url"
	// FPendingUpdates is getWebhookInfo's pending_update_count.
	FPendingUpdates = "pending_updates"
	// FWebhookError is the class of getWebhookInfo's last_error_message
	// (the reason label of dispatcher_telegram_webhook_last_error_timestamp_seconds).
	FWebhookError = "webhook_error"
)
