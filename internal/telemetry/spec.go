package telemetry

import "go.uber.org/zap/zapcore"

// EventSpec is the contract of one event: its domain, level and the fields
// it carries besides the common ones (ts, level, name, instance, role,
// domain, and for events about an update cid, update_id, user_id, chat_id).
type EventSpec struct {
	Name   Event
	Domain Domain
	// ByReason: the domain is DomainOf(reason_code) rather than Domain
	// (Domain is then the domain of reasons that name no other).
	ByReason bool
	Level    zapcore.Level
	// Update: the event is about one update and carries its identity when
	// the context holds one (see WithUpdate).
	Update bool
	// Fields are always present; Optional ones when they apply.
	Fields   []string
	Optional []string
	// Doc says when the event is logged.
	Doc string
}

// Levels, short, for the tables of this package.
const (
	info = zapcore.InfoLevel
	warn = zapcore.WarnLevel
	erro = zapcore.ErrorLevel
)

// specs is the table of every event the Logger writes, in the order of
// CONTRACT §5 followed by the service's own events. contract_test.go checks
// every event method against it; docs/telemetry.md is written from it.
var specs = []EventSpec{
	// ingest
	{Name: EvWebhookRejected, Domain: DomainWebhook, Level: warn, Fields: []string{FReasonCode, FReasonText, FStatus},
		Doc: "a webhook request was refused (401, 400, 405, 413, 503)"},
	{Name: EvQueueEnqueue, Domain: DomainQueue, Level: info, Update: true, Fields: []string{FUpdateType, FShard, FQueueDepth, FStreamID},
		Optional: []string{FSource},
		Doc:      "an update was appended to its shard's stream (by the ingesting instance); source=poll when it came from getUpdates"},
	{Name: EvDuplicateUpdate, Domain: DomainQueue, Level: info, Update: true, Fields: []string{FShard}, Optional: []string{FOriginalCID, FSource},
		Doc: "an update_id seen within DEDUPE_WINDOW was answered 200 and not enqueued; original_cid is the cid of its first ingest, whose chain tells what happened"},
	// worker
	{Name: EvQueuePick, Domain: DomainQueue, Level: info, Update: true, Fields: []string{FWorkerID, FShard, FDelivery, FWaitMS},
		Doc: "a worker took an entry from the stream"},
	{Name: EvDispatchStart, Domain: DomainQueue, Level: info, Update: true, Fields: []string{FShard, FToken},
		Doc: "a dispatch began under a fencing token"},
	{Name: EvDispatchOK, Domain: DomainQueue, Level: info, Update: true, Fields: []string{FDurationMS, FShard, FToken},
		Doc: "a dispatch succeeded and the entry was acknowledged"},
	{Name: EvDispatchFail, Domain: DomainQueue, Level: warn, Update: true,
		Fields: []string{FDurationMS, FErrorType, FErrorText, FShard, FToken, FDelivery},
		Doc:    "a dispatch failed; it is retried until MAX_DELIVERIES"},
	{Name: EvDeadLettered, Domain: DomainQueue, Level: erro, Update: true, Fields: []string{FReasonCode, FReasonText, FShard, FDelivery},
		Doc: "an update was moved to the dead-letter stream"},
	{Name: EvDLQReplayed, Domain: DomainQueue, Level: info, Update: true, Fields: []string{FShard, FDLQID, FStreamID},
		Doc: "a dead letter was put back on its stream"},
	{Name: EvDispatchAbandoned, Domain: DomainQueue, Level: erro, Update: true,
		Fields: []string{FReasonCode, FReasonText, FDurationMS, FShard, FToken},
		Doc:    "a handler ignored its context past the bound (AbandonAfter past HANDLER_TIMEOUT, LEASE_TTL/6 past the end of the lease) and was left running; its chat moves on"},
	{Name: EvDecodeIncomplete, Domain: DomainQueue, Level: warn, Update: true, Fields: []string{FUpdateType, FReasonCode, FReasonText},
		Doc: "telego could not decode parts of an update (reason_text names them); it is dispatched without them, logged once"},
	// callbacks
	{Name: EvCallbackReceived, Domain: DomainUX, Level: info, Update: true, Fields: []string{FCallbackData},
		Doc: "a callback query reached the router"},
	{Name: EvCallbackRouted, Domain: DomainUX, Level: info, Update: true, Fields: []string{FHandler, FButtonID},
		Doc: "a callback was matched to a handler"},
	{Name: EvCallbackAccepted, Domain: DomainUX, Level: info, Update: true, Fields: []string{FNextScreen},
		Doc: "a callback was carried out; the user moves to next_screen"},
	{Name: EvCallbackRejected, Domain: DomainUX, ByReason: true, Level: warn, Update: true,
		Fields: []string{FReasonCode, FReasonText}, Optional: []string{FExpectedState, FActualState},
		Doc: "a callback was refused (or, with PASSIVE_REJECT, left for the ACTIVE instance)"},
	{Name: EvAnswerCallbackQuery, Domain: DomainUX, Level: info, Update: true, Fields: []string{FText},
		Doc: "the callback was answered (answerCallbackQuery), so the user's spinner stops"},
	// messages
	{Name: EvMessageReceived, Domain: DomainUX, Level: info, Update: true, Optional: []string{FCommand, FTextLength},
		Doc: "a message reached the router: command for a command, else text_length (never the text)"},
	{Name: EvMessageRouted, Domain: DomainUX, Level: info, Update: true, Fields: []string{FHandler},
		Doc: "a message was matched to a handler"},
	{Name: EvMessageAccepted, Domain: DomainUX, Level: info, Update: true, Fields: []string{FNextScreen},
		Doc: "a message was carried out; the user moves to next_screen"},
	{Name: EvMessageRejected, Domain: DomainUX, ByReason: true, Level: warn, Update: true,
		Fields: []string{FReasonCode, FReasonText}, Optional: []string{FExpectedState, FActualState},
		Doc: "a message was refused (or, with PASSIVE_REJECT, left for the ACTIVE instance)"},
	{Name: EvUpdateRejected, Domain: DomainUX, ByReason: true, Level: warn, Update: true, Fields: []string{FReasonCode, FReasonText},
		Doc: "an update of another type (inline query, reaction, member change...) was refused"},
	// parameters
	{Name: EvParamInput, Domain: DomainUX, Level: info, Update: true, Fields: []string{FParamName, FValue},
		Doc: "the user typed a parameter value (shortened)"},
	{Name: EvParamValidationFailed, Domain: DomainUX, Level: warn, Update: true, Fields: []string{FParamName, FReasonCode, FHintToUser},
		Doc: "a parameter value was refused; hint_to_user is what the user was told"},
	{Name: EvParamAccepted, Domain: DomainUX, Level: info, Update: true, Fields: []string{FParamName, FValue},
		Doc: "a parameter value was accepted"},
	// screens
	{Name: EvUIRender, Domain: DomainUX, Level: info, Update: true, Fields: []string{FScreenID, FButtonIDs},
		Doc: "a screen was shown with these buttons"},
	// lease
	{Name: EvLeaseAcquired, Domain: DomainLease, Level: info, Fields: []string{FShard, FToken, FHolder},
		Doc: "this instance won a shard's lease (becomes ACTIVE for it)"},
	{Name: EvLeaseRenewFailed, Domain: DomainLease, Level: warn, Fields: []string{FShard, FToken, FHolder, FError},
		Doc: "a renewal did not succeed; the lease is kept until it would expire"},
	{Name: EvLeaseLost, Domain: DomainLease, Level: warn, Fields: []string{FShard, FToken, FHolder, FReasonText},
		Doc: "this instance no longer holds the lease (taken over or expired)"},
	{Name: EvLeaseReleased, Domain: DomainLease, Level: info, Fields: []string{FShard, FToken, FHolder},
		Doc: "the lease was given up (shutdown or rebalance)"},
	{Name: EvShardBalance, Domain: DomainLease, Level: info, Fields: []string{FMsg},
		Doc: "the live instances sharing the shards changed; each now holds at most the quota named in msg"},
	// long polling (INGEST=poll)
	{Name: EvPollStarted, Domain: DomainLease, Level: info, Fields: []string{FToken},
		Doc: "this instance won the poll lease and is now the one that calls getUpdates"},
	{Name: EvPollStopped, Domain: DomainLease, Level: info, Fields: []string{FToken, FReasonText}, Optional: []string{FReasonCode},
		Doc: "this instance stopped polling (shutdown, poll lease lost, or reason_code=FENCED: a newer poller took over)"},
	{Name: EvPollBatch, Domain: DomainQueue, Level: info, Fields: []string{FCount, FOffset},
		Doc: "count updates of a getUpdates batch are on the streams (or duplicates); offset, stored in Redis, is confirmed to Telegram by the next getUpdates"},
	{Name: EvPollBackoff, Domain: DomainTelegram, ByReason: true, Level: warn, Update: true,
		Fields: []string{FReasonCode, FReasonText, FBackoffMS}, Optional: []string{FStatus, FRetryAfter},
		Doc: "polling waits backoff_ms before trying again: Telegram failed (status, retry_after), or Redis, the backlog or the replicas refused an update (the offset stays before it)"},
	{Name: EvPollSkipped, Domain: DomainWebhook, Level: erro, Fields: []string{FReasonCode, FReasonText},
		Doc: "getUpdates returned something that is not an Update; the offset passes it so polling goes on"},
	{Name: EvWebhookConflict, Domain: DomainTelegram, Level: warn, Fields: []string{FMsg, FBackoffMS},
		Doc: "getUpdates was refused with 409 because a webhook is set; run `dispatcher webhook delete` (the instance retries, and never deletes it itself)"},
	// the deployment and the webhook as Telegram sees it (issue 24)
	{Name: EvDeploymentRefused, Domain: DomainAdmin, Level: erro, Fields: []string{FMsg, FReasonCode, FReasonText},
		Doc: "this instance's mode (real or sandbox) or bot differs from the one the deployment recorded in Redis: it exits 2 before it registers or takes a lease"},
	{Name: EvWebhookUnhealthy, Domain: DomainTelegram, Level: warn, Fields: []string{FMsg, FReasonCode, FReasonText},
		Optional: []string{FURL, FPendingUpdates, FWebhookError},
		Doc:      "the webhook check (holder of shard 0, getWebhookInfo every WEBHOOK_CHECK_INTERVAL) found a new delivery error, a webhook URL other than the configured one, or could not ask Telegram"},
	// guards
	{Name: EvSilenceWarning, Domain: DomainUX, Level: warn, Update: true, Fields: []string{FReasonText},
		Doc: "a callback ended with no ACCEPTED/REJECTED or no answer; the guard answered it. Also: a callback dead-lettered without a dispatch, answered by the instance that moved it"},
	{Name: EvTelegramAPIError, Domain: DomainTelegram, Level: warn, Update: true,
		Fields: []string{FMethod, FStatus, FRetryAfter, FReasonCode, FError},
		Doc:    "a Bot API call failed (status 0: no HTTP answer)"},
	// forward mode (CONTRACT §7)
	{Name: EvBotAPICall, Domain: DomainTelegram, Level: info, Update: true, Fields: []string{FMethod, FStatus, FDurationMS},
		Doc: "forward mode: the upstream bot made a Bot API call through the proxy (or in its webhook reply); cid is the update being delivered for that chat or callback, status is what the bot got (409: refused, PASSIVE_REJECT)"},
	// admin
	{Name: EvDebugModeChanged, Domain: DomainAdmin, Level: info, Fields: []string{FEnabled}, Optional: []string{FUntil},
		Doc: "this instance switched the debug level on or off (it follows the shared flag)"},
	{Name: EvDebugPanelShown, Domain: DomainAdmin, Level: info, Update: true, Fields: []string{FTargetUserID},
		Doc: "an admin opened the /debug panel (target_user_id: the user looked at)"},
	{Name: EvOpsAction, Domain: DomainAdmin, Level: info, Fields: []string{FAction, FOperator, FRemoteAddr, FTarget},
		Optional: []string{FCount, FError},
		Doc:      "an operator acted on the ops page: LOGIN, LOGOUT, DLQ_REPLAY, DLQ_DROP (count: how many), DEBUG_ON, DEBUG_OFF; operator is the name given at login (bearer-token, sandbox), error when the action failed"},
	{Name: EvOpsDenied, Domain: DomainAdmin, Level: warn, Fields: []string{FReasonCode, FReasonText, FRemoteAddr},
		Doc: "the ops page refused a request: UNAUTHORIZED (wrong OPS_TOKEN at login or as bearer token), FORBIDDEN (a POST without a valid CSRF token or from another origin)"},
	{Name: EvJob, Domain: DomainDB, Level: info, Update: true, Fields: []string{FJobID, FShard},
		Doc: "a job was written for the downstream generator"},
	// service
	{Name: EvServiceStarting, Domain: DomainQueue, Level: info, Fields: []string{FMsg},
		Doc: "the instance is starting"},
	{Name: EvServiceReady, Domain: DomainQueue, Level: info, Fields: []string{FMsg},
		Doc: "the instance answers /readyz with 200"},
	{Name: EvServiceStopping, Domain: DomainQueue, Level: info, Fields: []string{FMsg},
		Doc: "the instance began its graceful stop"},
	{Name: EvServiceStopped, Domain: DomainQueue, Level: info, Fields: []string{FMsg},
		Doc: "the instance finished its graceful stop"},
	{Name: EvRedisError, Domain: DomainDB, Level: warn, Fields: []string{FMsg},
		Doc: "a Redis call of a background component failed"},
	{Name: EvJournalError, Domain: DomainDB, Level: warn, Fields: []string{FMsg, FReasonCode, FFailed, FDropped, FError},
		Doc: "event journal writes failed or were dropped (at most one line a minute)"},
	{Name: EvJournalEvicted, Domain: DomainDB, Level: info, Fields: []string{FMsg, FTier, FSegments, FBytes, FAgeMS},
		Doc: "the journal budget (JOURNAL_MAX_MEMORY) evicted the oldest chains of a tier; age_ms: how old the newest of them was (at most one line a minute per tier)"},
	{Name: EvLibraryLog, Domain: DomainQueue, Level: info, Fields: []string{FMsg},
		Doc: "a line from a library (telego, go-redis, zap users); domain names the library's area"},
}

// Specs returns the contract of every event, in documentation order.
func Specs() []EventSpec { return append([]EventSpec(nil), specs...) }

// SpecOf returns the contract of one event.
func SpecOf(name Event) (EventSpec, bool) {
	s, ok := specIndex[name]
	return s, ok
}

var specIndex = func() map[Event]EventSpec {
	m := make(map[Event]EventSpec, len(specs))
	for _, s := range specs {
		m[s.Name] = s
	}
	return m
}()

// Reasons returns every reason code with when it is used.
func Reasons() []ReasonSpec { return append([]ReasonSpec(nil), reasons...) }

// ReasonSpec documents one reason code.
type ReasonSpec struct {
	Code   Reason
	Domain Domain // the domain of a rejection with this reason (DomainOf)
	Doc    string
}

var reasons = []ReasonSpec{
	{ReasonCallbackParseError, DomainUX, "callback_data could not be decoded (foreign, truncated or from an old release)"},
	{ReasonStateMismatch, DomainUX, "a button of a screen the user has left (expected_state vs actual_state); the user sees \"Button expired, use /start\""},
	{ReasonValidationFailed, DomainUX, "a parameter value was refused (e.g. a prompt shorter than 5 characters)"},
	{ReasonDBError, DomainDB, "a Redis read or write on the update's behalf failed (FSM, job), or a fenced write was refused"},
	{ReasonPassiveReject, DomainQueue, "the instance is not ACTIVE for the update's shard; the entry stays in the stream for the ACTIVE one"},
	{ReasonUnknownAction, DomainUX, "a well-formed callback or command that no handler takes"},
	{ReasonForbidden, DomainAdmin, "a non-admin used /debug or a debug button; a button of a menu made for another user (a group shows everybody's menus); on OPS_DENIED, a POST to the ops page without a valid CSRF token"},
	{ReasonHandlerTimeout, DomainQueue, "the dispatch ran past HANDLER_TIMEOUT"},
	{ReasonHandlerPanic, DomainQueue, "the handler panicked; the panic was recovered"},
	{ReasonTelegramAPIError, DomainTelegram, "a Bot API call failed after retries"},
	{ReasonUnauthorized, DomainWebhook, "webhook request with a missing or wrong X-Telegram-Bot-Api-Secret-Token (401); on OPS_DENIED, a wrong OPS_TOKEN"},
	{ReasonBadPayload, DomainWebhook, "webhook body is not an Update: not a JSON object with an integer update_id ≥ 0 (400); nothing else is refused"},
	{ReasonPayloadTooLarge, DomainWebhook, "webhook body over 1 MiB (413)"},
	{ReasonBacklogFull, DomainWebhook, "the shard's stream holds MAX_BACKLOG entries (503)"},
	{ReasonRedisUnavailable, DomainDB, "Redis did not answer: webhook 503, or a background write (journal, debug flag) failed"},
	{ReasonMaxDeliveries, DomainQueue, "the update failed MAX_DELIVERIES times and was dead-lettered"},
	{ReasonMethodNotAllowed, DomainWebhook, "webhook request with a method other than POST (405)"},
	{ReasonShuttingDown, DomainWebhook, "webhook request while the instance drains (503)"},
	{ReasonStarting, DomainWebhook, "webhook request before the instance's start checks passed (503)"},
	{ReasonHandlerAbandoned, DomainQueue, "a handler still ran past the bound after its context ended; the worker stopped waiting for it (DISPATCH_ABANDONED)"},
	{ReasonReplicasUnavailable, DomainWebhook, "the update was appended and will be dispatched, but fewer than REDIS_WAIT_REPLICAS replicas acknowledged it within REDIS_WAIT_TIMEOUT: 503 so that Telegram resends (the resend is a DUPLICATE_UPDATE)"},
	{ReasonUnsupportedPayload, DomainQueue, "parts of an update telego cannot decode (a value newer than telego, such as a new reaction type); dispatched without them, ends in DISPATCH_OK, never retried for it"},
	{ReasonPollConflict, DomainTelegram, "Telegram ended a getUpdates because another getUpdates came in: another process polls with this bot token (or a paused poller woke up)"},
	{ReasonFenced, DomainLease, "a poller's append or offset was refused: a poller with a newer poll-lease token took over"},
	{ReasonModeMismatch, DomainAdmin, "this instance's mode (sandbox or real) is not the deployment's recorded one, or a sandbox instance met a namespace an older version used without recording its mode: it refuses to start (exit 2)"},
	{ReasonBotMismatch, DomainAdmin, "this instance's bot (getMe's id) is not the bot the deployment recorded: it refuses to start (exit 2)"},
	{ReasonWebhookDeliveryFailed, DomainTelegram, "getWebhookInfo reports a delivery error newer than the last one seen (Telegram could not reach the webhook)"},
	{ReasonWebhookURLMismatch, DomainTelegram, "the webhook Telegram delivers to is not WEBHOOK_URL (or not on WEBHOOK_PATH when it is unset), or none is set"},
}

// DomainOf returns the domain of a rejection with reason r: DB for DB_ERROR,
// ADMIN for FORBIDDEN, TELEGRAM for TELEGRAM_API_ERROR, QUEUE for
// PASSIVE_REJECT, HANDLER_TIMEOUT, HANDLER_PANIC, MAX_DELIVERIES and
// UNSUPPORTED_PAYLOAD, WEBHOOK for the webhook's refusals, and UX for the
// rest.
func DomainOf(r Reason) Domain {
	switch r {
	case ReasonDBError, ReasonRedisUnavailable:
		return DomainDB
	case ReasonForbidden, ReasonModeMismatch, ReasonBotMismatch:
		return DomainAdmin
	case ReasonTelegramAPIError, ReasonPollConflict, ReasonWebhookDeliveryFailed, ReasonWebhookURLMismatch:
		return DomainTelegram
	case ReasonFenced:
		return DomainLease
	case ReasonPassiveReject, ReasonHandlerTimeout, ReasonHandlerPanic, ReasonMaxDeliveries, ReasonUnsupportedPayload,
		ReasonHandlerAbandoned:
		return DomainQueue
	case ReasonUnauthorized, ReasonBadPayload, ReasonPayloadTooLarge, ReasonBacklogFull,
		ReasonMethodNotAllowed, ReasonShuttingDown, ReasonStarting, ReasonReplicasUnavailable:
		return DomainWebhook
	}
	return DomainUX
}
