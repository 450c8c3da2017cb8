package inspect

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDLQErrorTypeIsClosed: `dlq list` and the ops page show an error type of the closed
// set, also for a dead letter an older release wrote with a Go type name.
func TestDLQErrorTypeIsClosed(t *testing.T) {
	typ, text := errorTypeOf("TELEGRAM_429", "telegram: sendMessage: 429 Too Many Requests")
	require.Equal(t, "TELEGRAM_429", typ)
	require.Equal(t, "telegram: sendMessage: 429 Too Many Requests", text)
	typ, text = errorTypeOf("*fmt.wrapError", "menu: boom")
	require.Equal(t, "HANDLER_ERROR", typ)
	require.Equal(t, "(*fmt.wrapError) menu: boom", text)
	typ, _ = errorTypeOf("", "")
	require.Empty(t, typ)
}
