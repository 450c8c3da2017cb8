package telemetry

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDocsListEveryErrorType keeps docs/telemetry.md's table of error types
// in step with ErrorTypes.
func TestDocsListEveryErrorType(t *testing.T) {
	b, err := os.ReadFile("../../docs/telemetry.md")
	require.NoError(t, err)
	for _, s := range ErrorTypes {
		require.Contains(t, string(b), fmt.Sprintf("| `%s` | %s |", s.Type, s.Doc), "docs/telemetry.md: the row of %s", s.Type)
		require.True(t, s.Type.Known())
	}
	require.False(t, ErrorType("*fmt.wrapError").Known())
}

func TestTelegramErrorType(t *testing.T) {
	for status, want := range map[int]ErrorType{0: ErrTypeTelegramNetwork, 400: ErrTypeTelegram4xx, 401: ErrTypeTelegram401,
		403: ErrTypeTelegram4xx, 429: ErrTypeTelegram429, 500: ErrTypeTelegram5xx, 502: ErrTypeTelegram5xx} {
		require.Equal(t, want, TelegramErrorType(status), "status %d", status)
	}
}
