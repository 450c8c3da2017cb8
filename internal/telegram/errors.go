package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrAPI matches every *APIError with errors.Is.
var ErrAPI = errors.New("telegram: api call failed")

// ErrAlreadyAnswered is returned by AnswerCallback for a callback query
// that was already answered under the same TrackAnswers context.
var ErrAlreadyAnswered = errors.New("telegram: callback query already answered")

// ErrRateLimited is returned when the limiter's wait would outlast the
// context's deadline; nothing was sent.
var ErrRateLimited = errors.New("telegram: rate limit wait exceeds the deadline")

// limitedError is the limiter's refusal: the call could go after wait. It
// matches ErrRateLimited and context.DeadlineExceeded.
type limitedError struct{ wait time.Duration }

func (e *limitedError) Error() string {
	return fmt.Sprintf("%v (%s left)", ErrRateLimited, e.wait.Round(time.Millisecond))
}

func (e *limitedError) Is(target error) bool {
	return target == ErrRateLimited || target == context.DeadlineExceeded
}

// limitWait returns the wait of a limiter refusal in err's chain, 0 if none.
func limitWait(err error) time.Duration {
	var le *limitedError
	if errors.As(err, &le) {
		return le.wait
	}
	return 0
}

// APIError is a failed Bot API call. Its text never contains the token.
type APIError struct {
	Method      string // Bot API method, e.g. "sendMessage"
	Status      int    // HTTP status (or Telegram's error_code); 0 for a transport failure
	RetryAfter  int    // seconds, from a 429's parameters
	Description string // Telegram's description or the redacted transport error
	cause       error  // the context's error when the call was cut short
}

func (e *APIError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("telegram: %s: %s", e.Method, e.Description)
	}
	return fmt.Sprintf("telegram: %s: %d %s", e.Method, e.Status, e.Description)
}

// Is makes errors.Is(err, ErrAPI) true.
func (e *APIError) Is(target error) bool { return target == ErrAPI }

// Unwrap returns the context error that cut the call short, if any.
func (e *APIError) Unwrap() error { return e.cause }

// RetryDelay returns how long Telegram asked not to repeat the call: a
// 429's retry_after (at least a second), or for a call the client's limiter
// held back, the time left on the pause it keeps for the chat. 0 for other
// failures. The worker delivers the update again no earlier
// (worker.Throttled).
func (e *APIError) RetryDelay() time.Duration {
	if d := limitWait(e.cause); d > 0 {
		return d
	}
	if e.Status != http.StatusTooManyRequests {
		return 0
	}
	return max(time.Duration(e.RetryAfter)*time.Second, time.Second)
}

// Retryable reports whether the same call may succeed later: a transport
// failure, a 429 or a 5xx.
func (e *APIError) Retryable() bool {
	return e.Status == 0 || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// AsAPIError returns the *APIError in err's chain.
func AsAPIError(err error) (*APIError, bool) {
	var e *APIError
	ok := errors.As(err, &e)
	return e, ok
}

// IsRetryable reports whether err is a Bot API failure worth a redelivery
// (see APIError.Retryable). Errors of other kinds report false.
func IsRetryable(err error) bool {
	e, ok := AsAPIError(err)
	return ok && e.Retryable()
}

// IsNotModified reports whether err is Telegram's answer to an edit that
// changes nothing ("message is not modified"), which callers treat as done.
func IsNotModified(err error) bool {
	e, ok := AsAPIError(err)
	return ok && e.Status == http.StatusBadRequest && strings.Contains(e.Description, "message is not modified")
}

// Status returns the HTTP status of a Bot API failure, 0 otherwise.
func Status(err error) int {
	if e, ok := AsAPIError(err); ok {
		return e.Status
	}
	return 0
}
