package telemetry

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// ---- long polling (INGEST=poll, CONTRACT §8) ----

// PollStarted logs that this instance won the poll lease under token and
// now calls getUpdates.
func (l *Logger) PollStarted(token int64) {
	if !l.on(info) {
		return
	}
	l.emit(context.Background(), info, EvPollStarted, DomainLease, zap.Int64(FToken, token))
}

// PollStopped logs the end of this instance's polling under token, and why;
// reason is set ("" otherwise) when a refusal ended it (ReasonFenced).
func (l *Logger) PollStopped(token int64, reason Reason, why string) {
	if !l.on(info) {
		return
	}
	if reason == "" {
		l.emit(context.Background(), info, EvPollStopped, DomainLease,
			zap.Int64(FToken, token), zap.String(FReasonText, l.text(why)))
		return
	}
	l.emit(context.Background(), info, EvPollStopped, DomainLease,
		zap.Int64(FToken, token), zap.String(FReasonText, l.text(why)), zap.String(FReasonCode, string(reason)))
}

// PollBatch logs count updates of a batch put on the streams and the offset
// stored after them.
func (l *Logger) PollBatch(count int, offset int64) {
	if !l.on(info) {
		return
	}
	l.emit(context.Background(), info, EvPollBatch, DomainQueue, zap.Int(FCount, count), zap.Int64(FOffset, offset))
}

// PollBackoff logs a wait of the poller before its next try. status and
// retryAfter (seconds) are Telegram's, for a failed getUpdates (0: left
// out). ctx carries the update refused, when the refusal is about one.
func (l *Logger) PollBackoff(ctx context.Context, reason Reason, why string, wait time.Duration, status, retryAfter int) {
	if !l.on(warn) {
		return
	}
	f := []zap.Field{zap.String(FReasonCode, string(reason)), zap.String(FReasonText, l.text(why)),
		zap.Int64(FBackoffMS, wait.Milliseconds())}
	if status != 0 {
		f = append(f, zap.Int(FStatus, status))
	}
	if retryAfter != 0 {
		f = append(f, zap.Int(FRetryAfter, retryAfter))
	}
	l.emit(ctx, warn, EvPollBackoff, DomainOf(reason), f...)
}

// PollSkipped logs something getUpdates returned that is not an Update,
// which the offset passes.
func (l *Logger) PollSkipped(reason Reason, why string) {
	if !l.on(erro) {
		return
	}
	l.emit(context.Background(), erro, EvPollSkipped, DomainWebhook,
		zap.String(FReasonCode, string(reason)), zap.String(FReasonText, l.text(why)))
}

// WebhookConflict logs Telegram's 409 to getUpdates while a webhook is set;
// msg, a sentence of ours (not shortened), tells the operator what to do;
// wait is the pause before the retry.
func (l *Logger) WebhookConflict(msg string, wait time.Duration) {
	if !l.on(warn) {
		return
	}
	l.emit(context.Background(), warn, EvWebhookConflict, DomainTelegram,
		zap.String(FMsg, l.red.String(msg)), zap.Int64(FBackoffMS, wait.Milliseconds()))
}

// ---- forward mode (CONTRACT §7) ----

// BotAPICall logs one Bot API call the upstream bot made through the
// proxy, with the status it got and how long it took.
func (l *Logger) BotAPICall(ctx context.Context, method string, status int, d time.Duration) {
	if !l.on(info) {
		return
	}
	l.emit(ctx, info, EvBotAPICall, DomainTelegram, zap.String(FMethod, l.text(method)), zap.Int(FStatus, status),
		zap.Int64(FDurationMS, d.Milliseconds()))
}
