package telemetry

import (
	"context"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// emit writes one event. The update identity comes from ctx; the domain is
// always present. At a disabled level it returns before building fields.
func (l *Logger) emit(ctx context.Context, lvl zapcore.Level, name Event, domain Domain, fields ...zap.Field) {
	ce := l.z.Check(lvl, string(name))
	if ce == nil {
		return
	}
	all := make([]zap.Field, 0, len(fields)+6)
	all = append(all, zap.String(FDomain, string(domain)))
	if u, ok := UpdateFrom(ctx); ok {
		all = append(all, zap.String(FCID, u.CID), zap.Int64(FUpdateID, u.UpdateID))
		if u.UserID != 0 {
			all = append(all, zap.Int64(FUserID, u.UserID))
		}
		if u.ChatID != 0 {
			all = append(all, zap.Int64(FChatID, u.ChatID))
		}
	}
	all = append(all, fields...)
	ce.Write(all...)
}

func reasonFields(reason Reason, text string) []zap.Field {
	return []zap.Field{zap.String(FReasonCode, string(reason)), zap.String(FReasonText, Shorten(text))}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return Shorten(err.Error())
}

// ---- ingest (domain WEBHOOK / QUEUE) ----

// WebhookRejected logs a webhook request that was refused.
func (l *Logger) WebhookRejected(ctx context.Context, reason Reason, status int, text string) {
	l.emit(ctx, zapcore.WarnLevel, EvWebhookRejected, DomainWebhook,
		append(reasonFields(reason, text), zap.Int(FStatus, status))...)
}

// QueueEnqueue logs an update appended to its shard's stream.
func (l *Logger) QueueEnqueue(ctx context.Context, updateType string, shard int, depth int64, streamID string) {
	l.emit(ctx, zapcore.InfoLevel, EvQueueEnqueue, DomainQueue,
		zap.String(FUpdateType, updateType), zap.Int(FShard, shard), zap.Int64(FQueueDepth, depth),
		zap.String(FStreamID, streamID))
}

// DuplicateUpdate logs an update_id seen within the dedupe window.
func (l *Logger) DuplicateUpdate(ctx context.Context, shard int) {
	l.emit(ctx, zapcore.InfoLevel, EvDuplicateUpdate, DomainQueue, zap.Int(FShard, shard))
}

// ---- worker (domain QUEUE) ----

// QueuePick logs an entry taken by a worker.
func (l *Logger) QueuePick(ctx context.Context, workerID string, shard int, delivery int64, wait time.Duration) {
	l.emit(ctx, zapcore.InfoLevel, EvQueuePick, DomainQueue,
		zap.String(FWorkerID, workerID), zap.Int(FShard, shard), zap.Int64(FDelivery, delivery),
		zap.Int64(FWaitMS, wait.Milliseconds()))
}

// DispatchStart logs the start of a dispatch under a fencing token.
func (l *Logger) DispatchStart(ctx context.Context, shard int, token int64) {
	l.emit(ctx, zapcore.InfoLevel, EvDispatchStart, DomainQueue, zap.Int(FShard, shard), zap.Int64(FToken, token))
}

// DispatchOK logs a dispatch that succeeded.
func (l *Logger) DispatchOK(ctx context.Context, d time.Duration, shard int, token int64) {
	l.emit(ctx, zapcore.InfoLevel, EvDispatchOK, DomainQueue,
		zap.Int64(FDurationMS, d.Milliseconds()), zap.Int(FShard, shard), zap.Int64(FToken, token))
}

// DispatchFail logs a dispatch that failed; errType is HANDLER_TIMEOUT,
// HANDLER_PANIC or the Go type of the error.
func (l *Logger) DispatchFail(ctx context.Context, d time.Duration, errType string, err error, shard int, token int64, delivery int64) {
	l.emit(ctx, zapcore.WarnLevel, EvDispatchFail, DomainQueue,
		zap.Int64(FDurationMS, d.Milliseconds()), zap.String(FErrorType, errType), zap.String(FErrorText, errText(err)),
		zap.Int(FShard, shard), zap.Int64(FToken, token), zap.Int64(FDelivery, delivery))
}

// DeadLettered logs an update moved to the dead-letter stream.
func (l *Logger) DeadLettered(ctx context.Context, shard int, deliveries int64, reason Reason, lastErr string) {
	l.emit(ctx, zapcore.ErrorLevel, EvDeadLettered, DomainQueue,
		append(reasonFields(reason, lastErr), zap.Int(FShard, shard), zap.Int64(FDelivery, deliveries))...)
}

// DLQReplayed logs a dead letter put back on its stream.
func (l *Logger) DLQReplayed(ctx context.Context, shard int, dlqID, streamID string) {
	l.emit(ctx, zapcore.InfoLevel, EvDLQReplayed, DomainQueue,
		zap.Int(FShard, shard), zap.String("dlq_id", dlqID), zap.String(FStreamID, streamID))
}

// UpdateRejected logs an update this instance did not dispatch, as the
// REJECTED event of its kind: CALLBACK_REJECTED for callback queries,
// MESSAGE_REJECTED for messages, UPDATE_REJECTED otherwise.
func (l *Logger) UpdateRejected(ctx context.Context, reason Reason, text string) {
	name := EvUpdateRejected
	if u, ok := UpdateFrom(ctx); ok {
		switch u.Type {
		case "callback_query":
			name = EvCallbackRejected
		case "message", "edited_message", "channel_post", "edited_channel_post", "business_message":
			name = EvMessageRejected
		}
	}
	l.emit(ctx, zapcore.WarnLevel, name, DomainQueue, reasonFields(reason, text)...)
}

// ---- callbacks (domain UX) ----

// CallbackReceived logs a callback query as it reaches the router.
func (l *Logger) CallbackReceived(ctx context.Context, data string) {
	l.emit(ctx, zapcore.InfoLevel, EvCallbackReceived, DomainUX, zap.String(FCallbackData, Shorten(data)))
}

// CallbackRouted logs the handler a callback was routed to.
func (l *Logger) CallbackRouted(ctx context.Context, handler string, button ButtonID) {
	l.emit(ctx, zapcore.InfoLevel, EvCallbackRouted, DomainUX, zap.String(FHandler, handler), zap.String(FButtonID, string(button)))
}

// CallbackAccepted logs a callback that moved the user to nextScreen.
func (l *Logger) CallbackAccepted(ctx context.Context, next ScreenID) {
	l.emit(ctx, zapcore.InfoLevel, EvCallbackAccepted, DomainUX, zap.String(FNextScreen, string(next)))
}

// CallbackRejected logs a callback that was refused. expected and actual
// are the FSM states for STATE_MISMATCH, empty otherwise.
func (l *Logger) CallbackRejected(ctx context.Context, reason Reason, text string, expected, actual ScreenID) {
	f := reasonFields(reason, text)
	if expected != "" || actual != "" {
		f = append(f, zap.String(FExpectedState, string(expected)), zap.String(FActualState, string(actual)))
	}
	l.emit(ctx, zapcore.WarnLevel, EvCallbackRejected, domainOf(reason), f...)
}

// AnswerCallbackQuery logs the answer a callback got.
func (l *Logger) AnswerCallbackQuery(ctx context.Context, text string) {
	l.emit(ctx, zapcore.InfoLevel, EvAnswerCallbackQuery, DomainUX, zap.String(FText, Shorten(text)))
}

// ---- messages (domain UX) ----

// MessageReceived logs a message as it reaches the router: the command for
// commands, else the text's length (never the text).
func (l *Logger) MessageReceived(ctx context.Context, command string, textLen int) {
	if command != "" {
		l.emit(ctx, zapcore.InfoLevel, EvMessageReceived, DomainUX, zap.String(FCommand, Shorten(command)))
		return
	}
	l.emit(ctx, zapcore.InfoLevel, EvMessageReceived, DomainUX, zap.Int(FTextLength, textLen))
}

// MessageRouted logs the handler a message was routed to.
func (l *Logger) MessageRouted(ctx context.Context, handler string) {
	l.emit(ctx, zapcore.InfoLevel, EvMessageRouted, DomainUX, zap.String(FHandler, handler))
}

// MessageAccepted logs a message that moved the user to next.
func (l *Logger) MessageAccepted(ctx context.Context, next ScreenID) {
	l.emit(ctx, zapcore.InfoLevel, EvMessageAccepted, DomainUX, zap.String(FNextScreen, string(next)))
}

// MessageRejected logs a message that was refused.
func (l *Logger) MessageRejected(ctx context.Context, reason Reason, text string, expected, actual ScreenID) {
	f := reasonFields(reason, text)
	if expected != "" || actual != "" {
		f = append(f, zap.String(FExpectedState, string(expected)), zap.String(FActualState, string(actual)))
	}
	l.emit(ctx, zapcore.WarnLevel, EvMessageRejected, domainOf(reason), f...)
}

// ---- parameters (domain UX) ----

// ParamInput logs a parameter value as the user gave it (shortened).
func (l *Logger) ParamInput(ctx context.Context, name, value string) {
	l.emit(ctx, zapcore.InfoLevel, EvParamInput, DomainUX, zap.String(FParamName, name), zap.String(FValue, Shorten(value)))
}

// ParamValidationFailed logs a refused parameter value and the hint shown.
func (l *Logger) ParamValidationFailed(ctx context.Context, name string, reason Reason, hint string) {
	l.emit(ctx, zapcore.WarnLevel, EvParamValidationFailed, DomainUX,
		zap.String(FParamName, name), zap.String(FReasonCode, string(reason)), zap.String(FHintToUser, Shorten(hint)))
}

// ParamAccepted logs an accepted parameter.
func (l *Logger) ParamAccepted(ctx context.Context, name, value string) {
	l.emit(ctx, zapcore.InfoLevel, EvParamAccepted, DomainUX, zap.String(FParamName, name), zap.String(FValue, Shorten(value)))
}

// ---- screens (domain UX) ----

// UIRender logs a screen shown to the user with its buttons.
func (l *Logger) UIRender(ctx context.Context, screen ScreenID, buttons []ButtonID) {
	ids := make([]string, len(buttons))
	for i, b := range buttons {
		ids[i] = string(b)
	}
	l.emit(ctx, zapcore.InfoLevel, EvUIRender, DomainUX, zap.String(FScreenID, string(screen)), zap.Strings(FButtonIDs, ids))
}

// ---- lease (domain LEASE) ----

func leaseFields(shard int, token int64, holder string) []zap.Field {
	return []zap.Field{zap.Int(FShard, shard), zap.Int64(FToken, token), zap.String(FHolder, holder)}
}

// LeaseAcquired logs a lease this instance won.
func (l *Logger) LeaseAcquired(shard int, token int64, holder string) {
	l.emit(context.Background(), zapcore.InfoLevel, EvLeaseAcquired, DomainLease, leaseFields(shard, token, holder)...)
}

// LeaseRenewFailed logs a renewal that did not succeed.
func (l *Logger) LeaseRenewFailed(shard int, token int64, holder string, err error) {
	l.emit(context.Background(), zapcore.WarnLevel, EvLeaseRenewFailed, DomainLease,
		append(leaseFields(shard, token, holder), zap.String(FError, errText(err)))...)
}

// LeaseLost logs a lease this instance no longer holds, and why.
func (l *Logger) LeaseLost(shard int, token int64, holder string, why string) {
	l.emit(context.Background(), zapcore.WarnLevel, EvLeaseLost, DomainLease,
		append(leaseFields(shard, token, holder), zap.String(FReasonText, why))...)
}

// LeaseReleased logs a lease given up on shutdown or rebalance.
func (l *Logger) LeaseReleased(shard int, token int64, holder string) {
	l.emit(context.Background(), zapcore.InfoLevel, EvLeaseReleased, DomainLease, leaseFields(shard, token, holder)...)
}

// ---- guards (domain UX / TELEGRAM) ----

// SilenceWarning logs a callback that ended without a result event or
// without an answer; the guard answers it.
func (l *Logger) SilenceWarning(ctx context.Context, why string) {
	l.emit(ctx, zapcore.WarnLevel, EvSilenceWarning, DomainUX, zap.String(FReasonText, why))
}

// TelegramAPIError logs a failed Bot API call.
func (l *Logger) TelegramAPIError(ctx context.Context, method string, status int, retryAfter int, err error) {
	l.emit(ctx, zapcore.WarnLevel, EvTelegramAPIError, DomainTelegram,
		zap.String(FMethod, method), zap.Int(FStatus, status), zap.Int(FRetryAfter, retryAfter),
		zap.String(FReasonCode, string(ReasonTelegramAPIError)), zap.String(FError, errText(err)))
}

// ---- admin (domain ADMIN) ----

// DebugModeChanged logs the runtime debug level switched on or off.
func (l *Logger) DebugModeChanged(ctx context.Context, enabled bool, until time.Time) {
	f := []zap.Field{zap.Bool(FEnabled, enabled)}
	if !until.IsZero() {
		f = append(f, zap.String(FUntil, until.UTC().Format(time.RFC3339)))
	}
	l.emit(ctx, zapcore.InfoLevel, EvDebugModeChanged, DomainAdmin, f...)
}

// DebugPanelShown logs the /debug panel shown to an admin.
func (l *Logger) DebugPanelShown(ctx context.Context, targetUser int64) {
	l.emit(ctx, zapcore.InfoLevel, EvDebugPanelShown, DomainAdmin, zap.Int64(FTargetUserID, targetUser))
}

// JobQueued logs a job written for the downstream generator.
func (l *Logger) JobQueued(ctx context.Context, jobID string, shard int) {
	l.emit(ctx, zapcore.InfoLevel, EvJob, DomainDB, zap.String(FJobID, jobID), zap.Int(FShard, shard))
}

// ---- service (no update) ----

// Service logs a lifecycle event of the instance (SERVICE_*, REDIS_ERROR...)
// with free-form fields; msg is a sentence for a person.
func (l *Logger) Service(lvl zapcore.Level, name Event, msg string, fields ...zap.Field) {
	l.emit(context.Background(), lvl, name, domainOfService(name), append([]zap.Field{zap.String(FMsg, msg)}, fields...)...)
}

// Debug logs a free-form debug line about an update (only at debug level).
func (l *Logger) Debug(ctx context.Context, name Event, fields ...zap.Field) {
	l.emit(ctx, zapcore.DebugLevel, name, DomainQueue, fields...)
}

func domainOf(r Reason) Domain {
	switch r {
	case ReasonDBError:
		return DomainDB
	case ReasonForbidden:
		return DomainAdmin
	case ReasonTelegramAPIError:
		return DomainTelegram
	case ReasonPassiveReject:
		return DomainQueue
	}
	return DomainUX
}

func domainOfService(name Event) Domain {
	switch name {
	case EvRedisError, EvJournalError:
		return DomainDB
	}
	return DomainQueue
}
