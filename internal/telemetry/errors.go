package telemetry

import "errors"

// Sentinel errors of the package; compare with errors.Is.
var (
	// ErrFormat: LOG_FORMAT is neither json nor kv.
	ErrFormat = errors.New("telemetry: unknown log format")
	// ErrBadCID: the text is not a correlation id (8 lowercase hex characters).
	ErrBadCID = errors.New("telemetry: not a correlation id")
	// ErrNoEvents: the journal holds no event for the cid (never logged,
	// evicted by the journal's budget, or expired after JOURNAL_TTL).
	ErrNoEvents = errors.New("telemetry: no events for this cid")
	// ErrDebugDuration: the debug level was asked for a duration that is not
	// positive.
	ErrDebugDuration = errors.New("telemetry: debug duration must be positive")
)
