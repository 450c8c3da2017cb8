package telemetry

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
)

// JournalEvent is one event as kept in the event journal: the decoded JSON
// line, with the contract's field keys.
type JournalEvent map[string]any

// Name returns the event name.
func (e JournalEvent) Name() string { s, _ := e[FName].(string); return s }

// Instance returns the instance that logged the event.
func (e JournalEvent) Instance() string { s, _ := e[FInstance].(string); return s }

// TS returns the event's timestamp text.
func (e JournalEvent) TS() string { s, _ := e[FTS].(string); return s }

// Str returns a string field, or "".
func (e JournalEvent) Str(key string) string { s, _ := e[key].(string); return s }

// JournalReader reads the event journal (implemented by *Journal).
type JournalReader interface {
	// Chain returns the events of one cid, oldest first.
	Chain(ctx context.Context, cid string) ([]JournalEvent, error)
	// LastCIDs returns a user's last n cids, newest first.
	LastCIDs(ctx context.Context, userID int64, n int) ([]string, error)
}

// DebugSetter switches the runtime debug level of every instance.
type DebugSetter interface {
	// EnableDebug sets the shared flag so that every instance logs at debug
	// level until the returned time.
	EnableDebug(ctx context.Context, d time.Duration) (time.Time, error)
}

var _ = redis.Nil
var _ = keys.Group
