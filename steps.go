package dispatcher

import (
	"errors"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// RejectOption adds to the REJECTED event of Context.Reject.
type RejectOption func(*rejectOptions)

type rejectOptions struct {
	expected, actual string
	cause            error
}

// States records the screen the update expected the user on and the
// screen the user is actually on (expected_state, actual_state): the pair
// that explains a STATE_MISMATCH from the log line alone. An empty screen
// is logged as it is; by convention a user with no state is "NONE".
func States(expected, actual string) RejectOption {
	return func(o *rejectOptions) { o.expected, o.actual = expected, actual }
}

// Cause logs err's text as the event's reason_text in place of the text
// the user is told (a DB_ERROR says what failed; the user reads
// TextServerError). States is ignored with a Cause.
func Cause(err error) RejectOption { return func(o *rejectOptions) { o.cause = err } }

// IsRetryable reports whether a failed Bot API call is worth dispatching
// the update again: Telegram was unavailable (5xx) or asked to wait
// (429) for longer than the call could. Other failures (a message that
// can no longer be edited, a chat that blocked the bot) would fail again.
func IsRetryable(err error) bool { return telegram.IsRetryable(err) }

// SourceMessage returns the chat and id of the message a callback's
// button was on, when the bot can still edit it (Telegram sends an
// inaccessible message for old ones); ok is false otherwise.
func (c *Context) SourceMessage() (chatID int64, messageID int, ok bool) {
	q := c.CallbackQuery()
	if q == nil || q.Message == nil || !q.Message.IsAccessible() {
		return 0, 0, false
	}
	m := q.Message.Message()
	return m.Chat.ID, m.MessageID, true
}

// ParamInput logs PARAM_INPUT: the user gave value (shortened in the log)
// for parameter name of a multi-step form.
func (c *Context) ParamInput(name, value string) { c.env.Log.ParamInput(c, name, value) }

// ParamAccepted logs PARAM_ACCEPTED: value was taken for parameter name.
func (c *Context) ParamAccepted(name, value string) { c.env.Log.ParamAccepted(c, name, value) }

// ParamRejected logs PARAM_VALIDATION_FAILED for parameter name with
// reason and the hint the user is shown. It logs no REJECTED event:
// follow it with Reject (usually with the same reason and hint).
func (c *Context) ParamRejected(name string, reason Reason, hint string) {
	c.env.Log.ParamValidationFailed(c, name, telemetry.Reason(reason), hint)
}

// JobQueued logs JOB_QUEUED for a job a Commit wrote, with the
// dispatch's shard.
func (c *Context) JobQueued(jobID string) {
	shard := 0
	if f, ok := lease.FenceFrom(c); ok {
		shard = f.Shard.N()
	}
	c.env.Log.JobQueued(c, jobID, shard)
}

// Commit writes next as the state of the update's user in its chat if it
// is still at revision expected, and appends job (nil: none) to the
// shard's jobs stream in the same fenced script (fsm.Store.Commit). A
// refusal at the stream's cap (fsm.ErrJobsFull) is counted in the
// jobs_refused_total metric.
func (c *Context) Commit(expected int64, next fsm.State, job *fsm.Job) (fsm.State, string, error) {
	st, id, err := c.env.fsm.Commit(c, c.ChatID(), c.UserID(), expected, next, job)
	if errors.Is(err, fsm.ErrJobsFull) && c.env.Metrics != nil {
		c.env.Metrics.JobsRefused.Inc()
	}
	return st, id, err
}

// Journal is a read-only view of the instance's event journal: the chains
// of recent cids as `dispatcher trace` shows them, for a bot's own debug
// panel. Context.Journal returns it; nil when the instance keeps no
// journal.
type Journal struct {
	c *Context
	r telemetry.JournalReader
}

// JournalEvent is one event of a chain: its fields as logged (CONTRACT
// §5), e.g. "reason_code", "expected_state", "next_screen".
type JournalEvent struct{ e telemetry.JournalEvent }

// Name is the event's name (CALLBACK_ACCEPTED, ...).
func (e JournalEvent) Name() string { return e.e.Name() }

// Instance is the instance that logged it.
func (e JournalEvent) Instance() string { return e.e.Instance() }

// Time is when it was logged (the zero Time when the stored text does not
// parse).
func (e JournalEvent) Time() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, e.e.TS())
	return t
}

// TS is the event's timestamp as stored (RFC 3339).
func (e JournalEvent) TS() string { return e.e.TS() }

// Str returns field k as text ("" when absent or not text).
func (e JournalEvent) Str(k string) string { return e.e.Str(k) }

// Journal returns the journal's read-only view, nil when the instance
// keeps none.
func (c *Context) Journal() *Journal {
	if c.env.Journal == nil {
		return nil
	}
	return &Journal{c: c, r: c.env.Journal}
}

// LastCIDs returns the last n cids of user, newest first.
func (j *Journal) LastCIDs(userID int64, n int) ([]string, error) {
	return j.r.LastCIDs(j.c, userID, n)
}

// Chain returns the events of cid, oldest first (nil when none is kept).
func (j *Journal) Chain(cid string) ([]JournalEvent, error) {
	evs, err := j.r.Chain(j.c, cid)
	if err != nil {
		return nil, err
	}
	out := make([]JournalEvent, len(evs))
	for i, e := range evs {
		out[i] = JournalEvent{e: e}
	}
	return out, nil
}

// NotKept returns one sentence saying what of cid's chain the journal did
// not keep and why, or "" when nothing is known to be missing (or the
// journal cannot tell). userID, when not 0, helps it find the update.
func (j *Journal) NotKept(cid string, userID int64) (string, error) {
	n, ok := j.r.(telemetry.JournalNotes)
	if !ok {
		return "", nil
	}
	return n.NotKept(j.c, cid, userID)
}

// DebugUser asks the journal to keep user's next chains in full (not
// sampled) for d, and returns until when; ok is false when the journal
// cannot. A failure is logged (REDIS_ERROR, REDIS_UNAVAILABLE, with
// target_user_id) and returned.
func (j *Journal) DebugUser(userID int64, d time.Duration) (until time.Time, ok bool, err error) {
	du, can := j.r.(telemetry.DebugUserSetter)
	if !can {
		return time.Time{}, false, nil
	}
	if until, err = du.DebugUser(j.c, userID, d); err != nil {
		j.c.env.Log.Service(zapcore.WarnLevel, telemetry.EvRedisError, "cannot put a user in the journal's debug mode",
			zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)),
			zap.Int64(telemetry.FTargetUserID, userID), zap.Error(err))
	}
	return until, true, err
}

// DuplicateOf returns the cid of the original update a chain's
// DUPLICATE_UPDATE names (a resend Telegram made), "" when the chain is
// no resend.
func DuplicateOf(chain []JournalEvent) string {
	evs := make([]telemetry.JournalEvent, len(chain))
	for i, e := range chain {
		evs[i] = e.e
	}
	return telemetry.DuplicateOf(evs)
}

// ErrNoDebugSwitch is returned by Context.EnableDebug on an instance
// without the shared debug switch.
var ErrNoDebugSwitch = errors.New("dispatcher: no debug switch on this instance")

// EnableDebug switches every instance of the bot to debug-level logging
// for d (the shared flag of `dispatcher debug`), logs DEBUG_MODE_CHANGED
// and returns until when.
func (c *Context) EnableDebug(d time.Duration) (time.Time, error) {
	if c.env.Debug == nil {
		return time.Time{}, ErrNoDebugSwitch
	}
	until, err := c.env.Debug.EnableDebug(c, d)
	if err != nil {
		return until, err
	}
	c.env.Log.DebugModeChanged(c, true, until)
	return until, nil
}

// HasDebugSwitch reports whether EnableDebug can work on this instance.
func (c *Context) HasDebugSwitch() bool { return c.env.Debug != nil }

// DebugPanelShown logs DEBUG_PANEL_SHOWN: an admin looked at the debug
// panel of targetUser (the admin's own id for the panel itself).
func (c *Context) DebugPanelShown(targetUser int64) { c.env.Log.DebugPanelShown(c, targetUser) }
