package telemetry

// ErrorType names why a dispatch failed, in the field error_type of
// DISPATCH_FAIL and DEAD_LETTERED, in the label error_type of
// dispatcher_dispatch_failures_total and dispatcher_telegram_api_failures_total,
// and in the ERROR column of `dispatcher dlq list`. The set is closed: every
// failure maps to exactly one of these, never to a Go type name, so an
// operator can alert on, group by and search for each one.
type ErrorType string

// The error types (docs/telemetry.md §6 lists each with its meaning).
const (
	// the handler itself
	ErrTypeHandler ErrorType = "HANDLER_ERROR"
	ErrTypePanic   ErrorType = "HANDLER_PANIC"
	ErrTypeTimeout ErrorType = "HANDLER_TIMEOUT"
	// the dispatch was stopped under it or lost its shard's lease
	ErrTypeCancelled ErrorType = "CANCELLED"
	ErrTypeFenced    ErrorType = "FENCED"
	// a Bot API call the handler made
	ErrTypeTelegram401     ErrorType = "TELEGRAM_401"
	ErrTypeTelegram429     ErrorType = "TELEGRAM_429"
	ErrTypeTelegram4xx     ErrorType = "TELEGRAM_4XX"
	ErrTypeTelegram5xx     ErrorType = "TELEGRAM_5XX"
	ErrTypeTelegramNetwork ErrorType = "TELEGRAM_NETWORK"
	// a Redis command the handler made (FSM, jobs)
	ErrTypeRedis ErrorType = "REDIS"
	// forward mode (CONTRACT §7): the upstream bot
	ErrTypeUpstreamStatus      ErrorType = "UPSTREAM_STATUS"
	ErrTypeUpstreamUnreachable ErrorType = "UPSTREAM_UNREACHABLE"
	// dead letters that never reached a handler's end
	ErrTypeUnacked    ErrorType = "UNACKED"
	ErrTypeBadPayload ErrorType = "BAD_PAYLOAD"
)

// ErrorTypeSpec documents one error type.
type ErrorTypeSpec struct {
	Type ErrorType
	Doc  string
}

// ErrorTypes is the closed set, in the order docs/telemetry.md lists it.
var ErrorTypes = []ErrorTypeSpec{
	{ErrTypeHandler, "the handler returned an error of no kind below (a bug or a dependency of the bot's own)"},
	{ErrTypePanic, "the handler panicked; the panic was recovered"},
	{ErrTypeTimeout, "the dispatch ran past HANDLER_TIMEOUT (a Bot API or Redis call cut by that deadline included)"},
	{ErrTypeCancelled, "the instance stopped or lost the shard under the dispatch; the update stays pending for the successor and is not counted as a delivery"},
	{ErrTypeFenced, "a write on the dispatch's behalf was refused because the shard's lease moved to another instance (fencing)"},
	{ErrTypeTelegram401, "the Bot API answered 401: the token was revoked or is wrong"},
	{ErrTypeTelegram429, "the Bot API answered 429 beyond the retry budget, or the rate limiter's wait would outlast the deadline"},
	{ErrTypeTelegram4xx, "the Bot API refused the call with another 4xx (400 bad request, 403 bot blocked by the user, 404...)"},
	{ErrTypeTelegram5xx, "the Bot API answered 5xx (or an answer that is not JSON) after the retries"},
	{ErrTypeTelegramNetwork, "the Bot API could not be reached (DNS, connect, TLS, reset) after the retries"},
	{ErrTypeRedis, "a Redis command on the dispatch's behalf failed (FSM, job queue)"},
	{ErrTypeUpstreamStatus, "forward mode: the upstream bot answered a status other than 2xx"},
	{ErrTypeUpstreamUnreachable, "forward mode: the upstream bot could not be reached"},
	{ErrTypeUnacked, "dead letters only: the update was delivered MAX_DELIVERIES times without an ack (its instance died each time)"},
	{ErrTypeBadPayload, "dead letters only: the stream entry holds no readable Update"},
}

// Known reports whether s is one of ErrorTypes.
func (e ErrorType) Known() bool {
	for _, s := range ErrorTypes {
		if s.Type == e {
			return true
		}
	}
	return false
}

// TelegramErrorType maps the status of a failed Bot API call (0: no answer)
// to its error type.
func TelegramErrorType(status int) ErrorType {
	switch {
	case status == 0:
		return ErrTypeTelegramNetwork
	case status == 401:
		return ErrTypeTelegram401
	case status == 429:
		return ErrTypeTelegram429
	case status >= 400 && status < 500:
		return ErrTypeTelegram4xx
	}
	return ErrTypeTelegram5xx
}

// ErrorTypeNames returns the error types as strings (label values).
func ErrorTypeNames() []string {
	out := make([]string, len(ErrorTypes))
	for i, s := range ErrorTypes {
		out[i] = string(s.Type)
	}
	return out
}
