package dispatcher

import (
	"errors"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
)

// ErrNotActive matches (errors.Is) every call refused because this
// instance no longer holds the update's shard under the dispatch's token:
// a Bot API call, an FSM write or a Script. Nothing was sent or written;
// the update stays in the stream for the instance that holds the shard
// now, which dispatches it again. A handler that gets it should return it
// (the dispatch logs PASSIVE_REJECT and is not acknowledged).
var ErrNotActive = lease.ErrFenced

// NotActiveError is the refusal of a call made after the shard was lost:
// errors.As gives the shard and the token the dispatch ran under.
type NotActiveError = lease.FenceError

// ErrNotCallback is returned by Context.Answer for an update that is not
// a callback query.
var ErrNotCallback = errors.New("dispatcher: not a callback query")

// ErrAlreadyAnswered is returned by Context.Answer for a query already
// answered in this dispatch.
var ErrAlreadyAnswered = telegram.ErrAlreadyAnswered

// ErrTelegram matches every failed Bot API call (the error's text never
// holds the bot token).
var ErrTelegram = telegram.ErrAPI

// Reason is a reason code of a REJECTED event (CONTRACT §5). Use the
// constants: they are the closed set dashboards and alerts know.
type Reason string

// Reason codes a handler may log with Context.Reject.
const (
	ReasonStateMismatch    Reason = "STATE_MISMATCH"
	ReasonValidationFailed Reason = "VALIDATION_FAILED"
	ReasonDBError          Reason = "DB_ERROR"
	ReasonUnknownAction    Reason = "UNKNOWN_ACTION"
	ReasonForbidden        Reason = "FORBIDDEN"
	ReasonTelegramAPIError Reason = "TELEGRAM_API_ERROR"
)

// Texts the router tells users when it refuses (the same as the reference
// bot's, CONTRACT §6).
const (
	TextServerError   = "Server error, try again"
	TextExpired       = "Button expired, use /start"
	TextUnknownButton = "Unknown button, use /start"
	TextForbidden     = "Not allowed"
	TextUnknownText   = "I did not expect that. Use the buttons or /start"
)

// IsNotActive reports whether err is (or wraps) a refusal because this
// instance no longer holds the update's shard: errors.Is(err, ErrNotActive).
func IsNotActive(err error) bool { return errors.Is(err, ErrNotActive) }
