package telemetry

import (
	"context"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// One method per event of the contract (spec.go lists them with their
// domain, level and fields). Each checks its level first, so a disabled
// event does no work; user-supplied text is redacted and shortened.

// ---- ingest (domain WEBHOOK / QUEUE) ----

// WebhookRejected logs a webhook request that was refused with HTTP status.
func (l *Logger) WebhookRejected(ctx context.Context, reason Reason, status int, text string) {
	if !l.on(warn) {
		return
	}
	l.emit(ctx, warn, EvWebhookRejected, DomainWebhook,
		zap.String(FReasonCode, string(reason)), zap.String(FReasonText, l.text(text)), zap.Int(FStatus, status))
}

// QueueEnqueue logs an update appended to its shard's stream.
func (l *Logger) QueueEnqueue(ctx context.Context, updateType string, shard int, depth int64, streamID string) {
	l.QueueEnqueueAt(ctx, time.Time{}, updateType, shard, depth, streamID)
}

// QueueEnqueueAt logs an append sent at `at`: ingest dates the line with
// the clock read before the append, because the ACTIVE instance can pick the
// entry (and log QUEUE_PICK) before the append's answer is back, and a trace
// must read ingest before dispatch.
func (l *Logger) QueueEnqueueAt(ctx context.Context, at time.Time, updateType string, shard int, depth int64, streamID string) {
	l.QueueEnqueueFrom(ctx, at, "", updateType, shard, depth, streamID)
}

// QueueEnqueueFrom is QueueEnqueueAt naming where the update came from
// (source: webhook or poll; "" leaves the field out).
func (l *Logger) QueueEnqueueFrom(ctx context.Context, at time.Time, source, updateType string, shard int, depth int64, streamID string) {
	if !l.on(info) {
		return
	}
	if source == "" {
		l.emitAt(ctx, at, info, EvQueueEnqueue, DomainQueue,
			zap.String(FUpdateType, updateType), zap.Int(FShard, shard), zap.Int64(FQueueDepth, depth),
			zap.String(FStreamID, streamID))
		return
	}
	l.emitAt(ctx, at, info, EvQueueEnqueue, DomainQueue,
		zap.String(FUpdateType, updateType), zap.Int(FShard, shard), zap.Int64(FQueueDepth, depth),
		zap.String(FStreamID, streamID), zap.String(FSource, source))
}

// DuplicateUpdate logs an update_id seen within the dedupe window; original
// is the cid of its first ingest ("" when the dedupe marker does not say).
func (l *Logger) DuplicateUpdate(ctx context.Context, shard int, original string) {
	l.DuplicateUpdateFrom(ctx, "", shard, original)
}

// DuplicateUpdateFrom is DuplicateUpdate naming where the resend came from
// (source: webhook or poll; "" leaves the field out).
func (l *Logger) DuplicateUpdateFrom(ctx context.Context, source string, shard int, original string) {
	if !l.on(info) {
		return
	}
	fb := fieldPool.Get().(*fieldBuf)
	f := append(fb.f[:0], zap.Int(FShard, shard))
	if original != "" {
		f = append(f, zap.String(FOriginalCID, l.text(original)))
	}
	if source != "" {
		f = append(f, zap.String(FSource, source))
	}
	l.emit(ctx, info, EvDuplicateUpdate, DomainQueue, f...)
	clear(f)
	fb.f = f[:0]
	fieldPool.Put(fb)
}

// ---- worker (domain QUEUE) ----

// QueuePick logs an entry taken by a worker after waiting wait in the stream.
func (l *Logger) QueuePick(ctx context.Context, workerID string, shard int, delivery int64, wait time.Duration) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvQueuePick, DomainQueue,
		zap.String(FWorkerID, workerID), zap.Int(FShard, shard), zap.Int64(FDelivery, delivery),
		zap.Int64(FWaitMS, wait.Milliseconds()))
}

// DispatchStart logs the start of a dispatch under a fencing token.
func (l *Logger) DispatchStart(ctx context.Context, shard int, token int64) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvDispatchStart, DomainQueue, zap.Int(FShard, shard), zap.Int64(FToken, token))
}

// DispatchStartAt logs the start of a dispatch decided at `at`: the worker
// reads the clock before it checks its lease and dates the line with that
// reading, so a pause of the process between the check and the write (a
// SIGSTOP, a long GC) cannot date a start under a stale token after a
// successor's LEASE_ACQUIRED.
func (l *Logger) DispatchStartAt(ctx context.Context, at time.Time, shard int, token int64) {
	if !l.on(info) {
		return
	}
	l.emitAt(ctx, at, info, EvDispatchStart, DomainQueue, zap.Int(FShard, shard), zap.Int64(FToken, token))
}

// DispatchOK logs a dispatch that succeeded.
func (l *Logger) DispatchOK(ctx context.Context, d time.Duration, shard int, token int64) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvDispatchOK, DomainQueue,
		zap.Int64(FDurationMS, d.Milliseconds()), zap.Int(FShard, shard), zap.Int64(FToken, token))
}

// DispatchFail logs a dispatch that failed; errType is one of ErrorTypes.
func (l *Logger) DispatchFail(ctx context.Context, d time.Duration, errType string, err error, shard int, token int64, delivery int64) {
	if !l.on(warn) {
		return
	}
	l.emit(ctx, warn, EvDispatchFail, DomainQueue,
		zap.Int64(FDurationMS, d.Milliseconds()), zap.String(FErrorType, errType), zap.String(FErrorText, l.errText(err)),
		zap.Int(FShard, shard), zap.Int64(FToken, token), zap.Int64(FDelivery, delivery))
}

// DispatchAbandoned logs a handler that has run for d and is no longer
// waited for (reason HANDLER_ABANDONED, why in the text).
func (l *Logger) DispatchAbandoned(ctx context.Context, d time.Duration, why string, shard int, token int64) {
	if !l.on(erro) {
		return
	}
	l.emit(ctx, erro, EvDispatchAbandoned, DomainQueue,
		zap.String(FReasonCode, string(ReasonHandlerAbandoned)), zap.String(FReasonText, l.text(why)),
		zap.Int64(FDurationMS, d.Milliseconds()), zap.Int(FShard, shard), zap.Int64(FToken, token))
}

// DeadLettered logs an update moved to the dead-letter stream.
func (l *Logger) DeadLettered(ctx context.Context, shard int, deliveries int64, reason Reason, lastErr string) {
	if !l.on(erro) {
		return
	}
	l.emit(ctx, erro, EvDeadLettered, DomainQueue,
		zap.String(FReasonCode, string(reason)), zap.String(FReasonText, l.text(lastErr)),
		zap.Int(FShard, shard), zap.Int64(FDelivery, deliveries))
}

// DLQReplayed logs a dead letter put back on its stream by a replay sent
// at `at` (zero: now): like QUEUE_ENQUEUE, the line is dated before the
// script ran, because the ACTIVE instance can dispatch the replayed entry
// before the script's answer is back, and a trace must read the replay
// before that dispatch.
func (l *Logger) DLQReplayed(ctx context.Context, at time.Time, shard int, dlqID, streamID string) {
	if !l.on(info) {
		return
	}
	l.emitAt(ctx, at, info, EvDLQReplayed, DomainQueue,
		zap.Int(FShard, shard), zap.String(FDLQID, dlqID), zap.String(FStreamID, streamID))
}

// DecodeIncomplete logs an update of type typ that telego could not fully
// decode (err names the parts left out), with UNSUPPORTED_PAYLOAD.
func (l *Logger) DecodeIncomplete(ctx context.Context, typ string, err error) {
	if !l.on(warn) {
		return
	}
	l.emit(ctx, warn, EvDecodeIncomplete, DomainQueue, zap.String(FUpdateType, typ),
		zap.String(FReasonCode, string(ReasonUnsupportedPayload)), zap.String(FReasonText, l.errText(err)))
}

// UpdateRejected logs an update this instance did not dispatch, as the
// REJECTED event of its kind: CALLBACK_REJECTED for callback queries,
// MESSAGE_REJECTED for messages, UPDATE_REJECTED otherwise. The domain is
// DomainOf(reason).
func (l *Logger) UpdateRejected(ctx context.Context, reason Reason, text string) {
	if !l.on(warn) {
		return
	}
	name := EvUpdateRejected
	if u, ok := UpdateFrom(ctx); ok {
		switch {
		case u.Type == "callback_query":
			name = EvCallbackRejected
		case update.IsMessage(u.Type):
			name = EvMessageRejected
		}
	}
	l.emit(ctx, warn, name, DomainOf(reason),
		zap.String(FReasonCode, string(reason)), zap.String(FReasonText, l.text(text)))
}

// ---- callbacks (domain UX) ----

// CallbackReceived logs a callback query as it reaches the router.
func (l *Logger) CallbackReceived(ctx context.Context, data string) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvCallbackReceived, DomainUX, zap.String(FCallbackData, l.text(data)))
}

// CallbackRouted logs the handler a callback was routed to.
func (l *Logger) CallbackRouted(ctx context.Context, handler string, button ButtonID) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvCallbackRouted, DomainUX, zap.String(FHandler, handler), zap.String(FButtonID, string(button)))
}

// CallbackAccepted logs a callback that moved the user to next.
func (l *Logger) CallbackAccepted(ctx context.Context, next ScreenID) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvCallbackAccepted, DomainUX, zap.String(FNextScreen, string(next)))
}

// CallbackRejected logs a callback that was refused; text is what the user
// was told. expected and actual are the FSM states for STATE_MISMATCH
// (both fields are written when either is set). The domain is
// DomainOf(reason).
func (l *Logger) CallbackRejected(ctx context.Context, reason Reason, text string, expected, actual ScreenID) {
	if !l.on(warn) {
		return
	}
	l.rejected(ctx, EvCallbackRejected, reason, text, expected, actual)
}

func (l *Logger) rejected(ctx context.Context, name Event, reason Reason, text string, expected, actual ScreenID) {
	if expected == "" && actual == "" {
		l.emit(ctx, warn, name, DomainOf(reason),
			zap.String(FReasonCode, string(reason)), zap.String(FReasonText, l.text(text)))
		return
	}
	l.emit(ctx, warn, name, DomainOf(reason),
		zap.String(FReasonCode, string(reason)), zap.String(FReasonText, l.text(text)),
		zap.String(FExpectedState, l.text(string(expected))), zap.String(FActualState, l.text(string(actual))))
}

// AnswerCallbackQuery logs the answer a callback got (text may be empty).
func (l *Logger) AnswerCallbackQuery(ctx context.Context, text string) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvAnswerCallbackQuery, DomainUX, zap.String(FText, l.text(text)))
}

// ---- messages (domain UX) ----

// MessageReceived logs a message as it reaches the router: the command for
// commands, else the text's length (never the text).
func (l *Logger) MessageReceived(ctx context.Context, command string, textLen int) {
	if !l.on(info) {
		return
	}
	if command != "" {
		l.emit(ctx, info, EvMessageReceived, DomainUX, zap.String(FCommand, l.text(command)))
		return
	}
	l.emit(ctx, info, EvMessageReceived, DomainUX, zap.Int(FTextLength, textLen))
}

// MessageRouted logs the handler a message was routed to.
func (l *Logger) MessageRouted(ctx context.Context, handler string) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvMessageRouted, DomainUX, zap.String(FHandler, handler))
}

// MessageAccepted logs a message that moved the user to next.
func (l *Logger) MessageAccepted(ctx context.Context, next ScreenID) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvMessageAccepted, DomainUX, zap.String(FNextScreen, string(next)))
}

// MessageRejected logs a message that was refused (see CallbackRejected).
func (l *Logger) MessageRejected(ctx context.Context, reason Reason, text string, expected, actual ScreenID) {
	if !l.on(warn) {
		return
	}
	l.rejected(ctx, EvMessageRejected, reason, text, expected, actual)
}

// ---- parameters (domain UX) ----

// ParamInput logs a parameter value as the user gave it (shortened).
func (l *Logger) ParamInput(ctx context.Context, name, value string) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvParamInput, DomainUX, zap.String(FParamName, name), zap.String(FValue, l.text(value)))
}

// ParamValidationFailed logs a refused parameter value and the hint shown.
func (l *Logger) ParamValidationFailed(ctx context.Context, name string, reason Reason, hint string) {
	if !l.on(warn) {
		return
	}
	l.emit(ctx, warn, EvParamValidationFailed, DomainUX,
		zap.String(FParamName, name), zap.String(FReasonCode, string(reason)), zap.String(FHintToUser, l.text(hint)))
}

// ParamAccepted logs an accepted parameter (value shortened).
func (l *Logger) ParamAccepted(ctx context.Context, name, value string) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvParamAccepted, DomainUX, zap.String(FParamName, name), zap.String(FValue, l.text(value)))
}

// ---- screens (domain UX) ----

// UIRender logs a screen shown to the user with its buttons, in order.
func (l *Logger) UIRender(ctx context.Context, screen ScreenID, buttons []ButtonID) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvUIRender, DomainUX, zap.String(FScreenID, string(screen)), zap.Array(FButtonIDs, buttonIDs(buttons)))
}

// ---- lease (domain LEASE) ----

// LeaseAcquired logs a lease this instance won.
func (l *Logger) LeaseAcquired(shard int, token int64, holder string) {
	if !l.on(info) {
		return
	}
	l.emit(context.Background(), info, EvLeaseAcquired, DomainLease,
		zap.Int(FShard, shard), zap.Int64(FToken, token), zap.String(FHolder, holder))
}

// LeaseRenewFailed logs a renewal that did not succeed.
func (l *Logger) LeaseRenewFailed(shard int, token int64, holder string, err error) {
	if !l.on(warn) {
		return
	}
	l.emit(context.Background(), warn, EvLeaseRenewFailed, DomainLease,
		zap.Int(FShard, shard), zap.Int64(FToken, token), zap.String(FHolder, holder), zap.String(FError, l.errText(err)))
}

// LeaseLost logs a lease this instance no longer holds, and why.
func (l *Logger) LeaseLost(shard int, token int64, holder string, why string) {
	if !l.on(warn) {
		return
	}
	l.emit(context.Background(), warn, EvLeaseLost, DomainLease,
		zap.Int(FShard, shard), zap.Int64(FToken, token), zap.String(FHolder, holder), zap.String(FReasonText, l.text(why)))
}

// LeaseReleased logs a lease given up on shutdown or rebalance.
func (l *Logger) LeaseReleased(shard int, token int64, holder string) {
	if !l.on(info) {
		return
	}
	l.emit(context.Background(), info, EvLeaseReleased, DomainLease,
		zap.Int(FShard, shard), zap.Int64(FToken, token), zap.String(FHolder, holder))
}

// ---- guards (domain UX / TELEGRAM) ----

// SilenceWarning logs a callback that ended without a result event or
// without an answer; the guard answers it.
func (l *Logger) SilenceWarning(ctx context.Context, why string) {
	if !l.on(warn) {
		return
	}
	l.emit(ctx, warn, EvSilenceWarning, DomainUX, zap.String(FReasonText, l.text(why)))
}

// TelegramAPIError logs a failed Bot API call: HTTP status (0 when there
// was no answer) and Retry-After seconds (0 when none).
func (l *Logger) TelegramAPIError(ctx context.Context, method string, status int, retryAfter int, err error) {
	if !l.on(warn) {
		return
	}
	l.emit(ctx, warn, EvTelegramAPIError, DomainTelegram,
		zap.String(FMethod, method), zap.Int(FStatus, status), zap.Int(FRetryAfter, retryAfter),
		zap.String(FReasonCode, string(ReasonTelegramAPIError)), zap.String(FError, l.errText(err)))
}

// ---- admin (domain ADMIN) ----

// DebugModeChanged logs the runtime debug level switched on (until the
// given time) or off (until zero).
func (l *Logger) DebugModeChanged(ctx context.Context, enabled bool, until time.Time) {
	if !l.on(info) {
		return
	}
	if until.IsZero() {
		l.emit(ctx, info, EvDebugModeChanged, DomainAdmin, zap.Bool(FEnabled, enabled))
		return
	}
	l.emit(ctx, info, EvDebugModeChanged, DomainAdmin, zap.Bool(FEnabled, enabled), zap.Time(FUntil, until))
}

// DebugPanelShown logs the /debug panel shown to an admin; targetUser is the
// user looked at (the admin's own id for a plain /debug).
func (l *Logger) DebugPanelShown(ctx context.Context, targetUser int64) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvDebugPanelShown, DomainAdmin, zap.Int64(FTargetUserID, targetUser))
}

// OpsAction logs what an operator did on the ops page (action: one of the
// Ops* constants); count is how many dead letters a DLQ action touched
// (left out when negative), err why the action failed.
func (l *Logger) OpsAction(ctx context.Context, action, operator, remoteAddr, target string, count int, err error) {
	if !l.on(info) {
		return
	}
	fields := []zap.Field{zap.String(FAction, action), zap.String(FOperator, l.text(operator)),
		zap.String(FRemoteAddr, l.text(remoteAddr)), zap.String(FTarget, l.text(target))}
	if count >= 0 {
		fields = append(fields, zap.Int(FCount, count))
	}
	if err != nil {
		fields = append(fields, zap.String(FError, l.errText(err)))
	}
	l.emit(ctx, info, EvOpsAction, DomainAdmin, fields...)
}

// OpsDenied logs a request the ops page refused (reason UNAUTHORIZED or
// FORBIDDEN) and why.
func (l *Logger) OpsDenied(ctx context.Context, reason Reason, why, remoteAddr string) {
	if !l.on(warn) {
		return
	}
	l.emit(ctx, warn, EvOpsDenied, DomainAdmin, zap.String(FReasonCode, string(reason)),
		zap.String(FReasonText, l.text(why)), zap.String(FRemoteAddr, l.text(remoteAddr)))
}

// JobQueued logs a job written for the downstream generator.
func (l *Logger) JobQueued(ctx context.Context, jobID string, shard int) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvJob, DomainDB, zap.String(FJobID, jobID), zap.Int(FShard, shard))
}

// ---- service (no update) ----

// Service logs a lifecycle event of the instance (SERVICE_*, REDIS_ERROR,
// JOURNAL_WRITE_FAILED...) with free-form fields; msg is a sentence for a
// person. The domain is the event's (spec.go), QUEUE for unknown names.
func (l *Logger) Service(lvl zapcore.Level, name Event, msg string, fields ...zap.Field) {
	if !l.on(lvl) {
		return
	}
	l.emitMsg(context.Background(), lvl, name, specDomain(name), l.red.String(msg), fields)
}

// Debug logs a free-form line about an update, at debug level only (domain
// QUEUE, or the event's when name is one of the contract).
func (l *Logger) Debug(ctx context.Context, name Event, fields ...zap.Field) {
	if !l.on(zapcore.DebugLevel) {
		return
	}
	l.emit(ctx, zapcore.DebugLevel, name, specDomain(name), fields...)
}

func (l *Logger) emitMsg(ctx context.Context, lvl zapcore.Level, name Event, domain Domain, msg string, fields []zap.Field) {
	if len(fields) == 0 {
		l.emit(ctx, lvl, name, domain, zap.String(FMsg, msg))
		return
	}
	all := make([]zap.Field, 0, len(fields)+1)
	all = append(all, zap.String(FMsg, msg))
	l.emit(ctx, lvl, name, domain, append(all, fields...)...)
}

func specDomain(name Event) Domain {
	if s, ok := specIndex[name]; ok {
		return s.Domain
	}
	return DomainQueue
}
