package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"unicode/utf8"
)

// Update is the identity of one update that every event about it carries.
// It travels in the context from ingest to the last handler call.
type Update struct {
	CID      string // 8 lowercase hex characters, made at ingest
	UpdateID int64
	Type     string // update type, e.g. "message", "callback_query"
	UserID   int64  // 0 when the update names no user
	ChatID   int64  // 0 when the update names no chat
	Shard    int
}

type updateKey struct{}

// WithUpdate returns a context that carries u; every event logged with it
// carries u's cid, update_id, user_id and chat_id.
func WithUpdate(ctx context.Context, u Update) context.Context {
	return context.WithValue(ctx, updateKey{}, u)
}

// UpdateFrom returns the update identity carried by ctx.
func UpdateFrom(ctx context.Context) (Update, bool) {
	if ctx == nil {
		return Update{}, false
	}
	u, ok := ctx.Value(updateKey{}).(Update)
	return u, ok
}

// NewCID returns a fresh correlation id: 8 lowercase hex characters.
func NewCID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ValidCID reports whether s has the form of a correlation id.
func ValidCID(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Shorten cuts user-supplied text to at most MaxUserText runes, the last of
// them an ellipsis when the text was cut.
func Shorten(s string) string {
	if utf8.RuneCountInString(s) <= MaxUserText {
		return s
	}
	n := 0
	for i := range s {
		if n == MaxUserText-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
