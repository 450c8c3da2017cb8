package telemetry

// Event is the name of a log event (the field `name`), CONTRACT §5.
type Event string

// Events of CONTRACT §5, and the service's own lifecycle events.
const (
	// ingest
	EvWebhookRejected Event = "WEBHOOK_REJECTED"
	EvQueueEnqueue    Event = "QUEUE_ENQUEUE"
	EvDuplicateUpdate Event = "DUPLICATE_UPDATE"
	// worker
	EvQueuePick     Event = "QUEUE_PICK"
	EvDispatchStart Event = "DISPATCH_START"
	EvDispatchOK    Event = "DISPATCH_OK"
	EvDispatchFail  Event = "DISPATCH_FAIL"
	EvDeadLettered  Event = "DEAD_LETTERED"
	EvDLQReplayed   Event = "DLQ_REPLAYED"
	// EvDispatchAbandoned: a handler ignored its context past the bound and
	// its goroutine was left running (reason HANDLER_ABANDONED)
	EvDispatchAbandoned Event = "DISPATCH_ABANDONED"
	// EvDecodeIncomplete: telego could not decode every part of an update;
	// it is dispatched with what did decode (UNSUPPORTED_PAYLOAD)
	EvDecodeIncomplete Event = "DECODE_INCOMPLETE"
	// callbacks
	EvCallbackReceived    Event = "CALLBACK_RECEIVED"
	EvCallbackRouted      Event = "CALLBACK_ROUTED"
	EvCallbackAccepted    Event = "CALLBACK_ACCEPTED"
	EvCallbackRejected    Event = "CALLBACK_REJECTED"
	EvAnswerCallbackQuery Event = "ANSWER_CALLBACK_QUERY"
	// messages
	EvMessageReceived Event = "MESSAGE_RECEIVED"
	EvMessageRouted   Event = "MESSAGE_ROUTED"
	EvMessageAccepted Event = "MESSAGE_ACCEPTED"
	EvMessageRejected Event = "MESSAGE_REJECTED"
	// other update types (inline queries, reactions, chat member changes...)
	EvUpdateRejected Event = "UPDATE_REJECTED"
	// parameters
	EvParamInput            Event = "PARAM_INPUT"
	EvParamValidationFailed Event = "PARAM_VALIDATION_FAILED"
	EvParamAccepted         Event = "PARAM_ACCEPTED"
	// screens
	EvUIRender Event = "UI_RENDER"
	// lease
	EvLeaseAcquired    Event = "LEASE_ACQUIRED"
	EvLeaseRenewFailed Event = "LEASE_RENEW_FAILED"
	EvLeaseLost        Event = "LEASE_LOST"
	EvLeaseReleased    Event = "LEASE_RELEASED"
	// EvShardBalance: the live instances of the shard balance changed (SHARDS > 1)
	EvShardBalance Event = "SHARD_BALANCE"
	// long polling (INGEST=poll, CONTRACT §8)
	EvPollStarted     Event = "POLL_STARTED"
	EvPollStopped     Event = "POLL_STOPPED"
	EvPollBatch       Event = "POLL_BATCH"
	EvPollBackoff     Event = "POLL_BACKOFF"
	EvPollSkipped     Event = "POLL_SKIPPED"
	EvWebhookConflict Event = "WEBHOOK_CONFLICT"
	// guards
	EvSilenceWarning   Event = "SILENCE_WARNING"
	EvTelegramAPIError Event = "TELEGRAM_API_ERROR"
	// forward mode (CONTRACT §7): the Bot API proxy
	EvBotAPICall Event = "BOT_API_CALL"
	// admin
	EvDebugModeChanged Event = "DEBUG_MODE_CHANGED"
	EvDebugPanelShown  Event = "DEBUG_PANEL_SHOWN"
	// EvOpsAction: an operator acted on the ops page (/ops): logged in or
	// out, replayed or dropped a dead letter, switched debug mode
	EvOpsAction Event = "OPS_ACTION"
	// EvOpsDenied: the ops page refused a request (wrong OPS_TOKEN, a POST
	// without a valid CSRF token)
	EvOpsDenied Event = "OPS_DENIED"
	// service lifecycle (not per update)
	EvServiceStarting Event = "SERVICE_STARTING"
	EvServiceReady    Event = "SERVICE_READY"
	EvServiceStopping Event = "SERVICE_STOPPING"
	EvServiceStopped  Event = "SERVICE_STOPPED"
	EvRedisError      Event = "REDIS_ERROR"
	EvJournalError    Event = "JOURNAL_WRITE_FAILED"
	// EvJournalEvicted: the journal's memory budget (JOURNAL_MAX_MEMORY)
	// removed its oldest chains (at most one line a minute per tier).
	EvJournalEvicted Event = "JOURNAL_EVICTED"
	EvJob            Event = "JOB_QUEUED"
	// EvLibraryLog is a line written by a library through Zap or Lib; its
	// text is in the field msg.
	EvLibraryLog Event = "LIBRARY_LOG"
)

// Reason is a reason code (the field `reason_code`), CONTRACT §5.
type Reason string

// Reason codes of CONTRACT §5.
const (
	ReasonCallbackParseError Reason = "CALLBACK_PARSE_ERROR"
	ReasonStateMismatch      Reason = "STATE_MISMATCH"
	ReasonValidationFailed   Reason = "VALIDATION_FAILED"
	ReasonDBError            Reason = "DB_ERROR"
	ReasonPassiveReject      Reason = "PASSIVE_REJECT"
	ReasonUnknownAction      Reason = "UNKNOWN_ACTION"
	ReasonForbidden          Reason = "FORBIDDEN"
	ReasonHandlerTimeout     Reason = "HANDLER_TIMEOUT"
	ReasonHandlerPanic       Reason = "HANDLER_PANIC"
	ReasonTelegramAPIError   Reason = "TELEGRAM_API_ERROR"
	ReasonUnauthorized       Reason = "UNAUTHORIZED"
	ReasonBadPayload         Reason = "BAD_PAYLOAD"
	ReasonPayloadTooLarge    Reason = "PAYLOAD_TOO_LARGE"
	ReasonBacklogFull        Reason = "BACKLOG_FULL"
	ReasonRedisUnavailable   Reason = "REDIS_UNAVAILABLE"
	ReasonMaxDeliveries      Reason = "MAX_DELIVERIES"
	// ReasonMethodNotAllowed is logged for a webhook request with a method
	// other than POST (answered 405).
	ReasonMethodNotAllowed Reason = "METHOD_NOT_ALLOWED"
	// ReasonShuttingDown is logged for a webhook request that arrives while
	// the instance drains (answered 503).
	ReasonShuttingDown Reason = "SHUTTING_DOWN"
	// ReasonStarting is logged for a webhook request that arrives before
	// the instance's start checks passed (answered 503).
	ReasonStarting Reason = "STARTING"
	// ReasonHandlerAbandoned is logged (DISPATCH_ABANDONED) for a handler
	// that had not returned AbandonAfter past its deadline, or
	// LeaseEndGrace past the end of the lease: the worker stops waiting.
	ReasonHandlerAbandoned Reason = "HANDLER_ABANDONED"
	// ReasonReplicasUnavailable is logged for a webhook request whose update
	// was appended (and will be dispatched) but not acknowledged by
	// REDIS_WAIT_REPLICAS replicas in time (answered 503 so that Telegram
	// resends; the resend is a duplicate).
	ReasonReplicasUnavailable Reason = "REPLICAS_UNAVAILABLE"
	// ReasonUnsupportedPayload is logged (DECODE_INCOMPLETE) for an update
	// with parts telego cannot decode; it is dispatched without them, once,
	// and never retried or dead-lettered for them.
	ReasonUnsupportedPayload Reason = "UNSUPPORTED_PAYLOAD"
	// ReasonPollConflict is logged when Telegram ends a getUpdates because
	// another getUpdates request came in (another process polls with the
	// same bot token).
	ReasonPollConflict Reason = "POLL_CONFLICT"
	// ReasonFenced is logged when a poller's append or offset was refused
	// because a poller with a newer poll-lease token took over.
	ReasonFenced Reason = "FENCED"
)

// Domain groups events (the field `domain`), CONTRACT §5.
type Domain string

// Domains of CONTRACT §5.
const (
	DomainUX       Domain = "UX"
	DomainQueue    Domain = "QUEUE"
	DomainLease    Domain = "LEASE"
	DomainWebhook  Domain = "WEBHOOK"
	DomainDB       Domain = "DB"
	DomainTelegram Domain = "TELEGRAM"
	DomainAdmin    Domain = "ADMIN"
)

// Field keys of CONTRACT §5. Call sites never spell a key: the typed event
// functions do.
const (
	FTS            = "ts"
	FLevel         = "level"
	FName          = "name"
	FInstance      = "instance"
	FRole          = "role"
	FDomain        = "domain"
	FCID           = "cid"
	FUpdateID      = "update_id"
	FUserID        = "user_id"
	FChatID        = "chat_id"
	FUpdateType    = "update_type"
	FShard         = "shard"
	FQueueDepth    = "queue_depth"
	FWorkerID      = "worker_id"
	FDelivery      = "delivery"
	FWaitMS        = "wait_ms"
	FDurationMS    = "duration_ms"
	FToken         = "token"
	FHolder        = "holder"
	FErrorType     = "error_type"
	FErrorText     = "error_text"
	FCallbackData  = "callback_data"
	FHandler       = "handler"
	FButtonID      = "button_id"
	FNextScreen    = "next_screen"
	FReasonCode    = "reason_code"
	FReasonText    = "reason_text"
	FExpectedState = "expected_state"
	FActualState   = "actual_state"
	FText          = "text"
	FCommand       = "command"
	FTextLength    = "text_length"
	FParamName     = "param_name"
	FValue         = "value"
	FHintToUser    = "hint_to_user"
	FScreenID      = "screen_id"
	FButtonIDs     = "button_ids"
	FMethod        = "method"
	FStatus        = "status"
	FRetryAfter    = "retry_after"
	FEnabled       = "enabled"
	FUntil         = "until"
	FTargetUserID  = "target_user_id"
	FJobID         = "job_id"
	FStreamID      = "stream_id"
	// FOriginalCID is the cid of the first ingest of an update_id, on a
	// resend's DUPLICATE_UPDATE.
	FOriginalCID = "original_cid"
	FDLQID       = "dlq_id"
	FFailed      = "failed"
	FDropped     = "dropped"
	FMsg         = "msg"
	FError       = "error"
	// FSource is where an update came from: webhook or poll.
	FSource = "source"
	// FOffset is the offset confirmed after a getUpdates batch of FCount
	// updates (POLL_BATCH).
	FOffset = "offset"
	// FBackoffMS is how long the poller waits before trying again.
	FBackoffMS = "backoff_ms"
	// FLease names a lease other than a shard's (lease=poll on the poll
	// lease's LEASE_* events, whose shard is then 0).
	FLease = "lease"
	// FTier, FSegments, FBytes, FAgeMS: of JOURNAL_EVICTED
	FTier     = "tier"
	FSegments = "segments"
	FBytes    = "bytes"
	FAgeMS    = "age_ms"
	// fields of the ops page's events
	FAction     = "action"
	FOperator   = "operator"
	FRemoteAddr = "remote_addr"
	FTarget     = "target"
	FCount      = "count" // also a getUpdates batch's size (POLL_BATCH)
)

// Actions of OPS_ACTION (the field action).
const (
	OpsLogin     = "LOGIN"
	OpsLogout    = "LOGOUT"
	OpsDLQReplay = "DLQ_REPLAY"
	OpsDLQDrop   = "DLQ_DROP"
	OpsDebugOn   = "DEBUG_ON"
	OpsDebugOff  = "DEBUG_OFF"
)

// Role values of the field `role`.
const (
	RoleActive  = "ACTIVE"
	RolePassive = "PASSIVE"
)

// ScreenID names a screen of the bot (CONTRACT §6).
type ScreenID string

// ButtonID names a button of the bot.
type ButtonID string

// MaxUserText is the longest user-supplied text an event carries; longer
// values are shortened with an ellipsis.
const MaxUserText = 64
