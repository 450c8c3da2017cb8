package telemetry

import (
	"context"
	"encoding/json"
	"strconv"
	"time"
)

// JournalEvent is one event as the event journal gives it back: the event's
// line as a map, with the contract's field keys (ts, level, name,
// instance, role, domain, the update identity, the event's own fields).
// Numbers are json.Number (exact for every int64), arrays []any.
type JournalEvent map[string]any

// Name returns the event name.
func (e JournalEvent) Name() string { s, _ := e[FName].(string); return s }

// Instance returns the instance that logged the event.
func (e JournalEvent) Instance() string { s, _ := e[FInstance].(string); return s }

// TS returns the event's timestamp text.
func (e JournalEvent) TS() string { s, _ := e[FTS].(string); return s }

// Str returns a string field, or "".
func (e JournalEvent) Str(key string) string { s, _ := e[key].(string); return s }

// Int returns an integer field.
func (e JournalEvent) Int(key string) (int64, bool) {
	switch v := e[key].(type) {
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case int64:
		return v, true
	case float64:
		return int64(v), v == float64(int64(v))
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// Time returns the event's timestamp (zero when ts is missing or malformed).
func (e JournalEvent) Time() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, e.TS())
	return t
}

// JournalReader reads the event journal (implemented by *journal.Journal).
type JournalReader interface {
	// Chain returns the events of one cid, oldest first.
	Chain(ctx context.Context, cid string) ([]JournalEvent, error)
	// LastCIDs returns a user's last n cids, newest first.
	LastCIDs(ctx context.Context, userID int64, n int) ([]string, error)
}

// JournalNotes says what the journal does not keep of a chain (implemented
// by *journal.Journal; a reader without it says nothing).
type JournalNotes interface {
	// NotKept returns one sentence that says plainly what of cid's chain is
	// not kept and why (for instance "evicted after 3h by the journal
	// budget"), or "" when nothing is known to be missing. userID, when not
	// 0, lets the journal find when the update was seen.
	NotKept(ctx context.Context, cid string, userID int64) (string, error)
}

// DebugUserSetter puts one user in debug mode for the journal: every chain
// of the user is kept in full, and evicted last, until the returned time
// (implemented by *journal.Journal).
type DebugUserSetter interface {
	DebugUser(ctx context.Context, userID int64, d time.Duration) (time.Time, error)
}

// DebugSetter switches the runtime debug level of every instance.
type DebugSetter interface {
	// EnableDebug sets the shared flag so that every instance logs at debug
	// level until the returned time.
	EnableDebug(ctx context.Context, d time.Duration) (time.Time, error)
}

// DuplicateOf returns the cid of the original update that a chain's
// DUPLICATE_UPDATE names (field original_cid), "" when the chain is no
// resend or the original's cid is unknown (a dedupe marker written before
// markers kept the cid).
func DuplicateOf(events []JournalEvent) string {
	for _, e := range events {
		if e.Name() != string(EvDuplicateUpdate) {
			continue
		}
		if orig := e.Str(FOriginalCID); ValidCID(orig) && orig != e.Str(FCID) {
			return orig
		}
	}
	return ""
}
