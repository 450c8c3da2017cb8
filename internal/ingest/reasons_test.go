package ingest

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// TestReasonsListEveryRefusal: every reason code ingest.go refuses with is
// in Reasons, so its counter exists at 0 before the first refusal.
func TestReasonsListEveryRefusal(t *testing.T) {
	src, err := os.ReadFile("ingest.go")
	require.NoError(t, err)
	used := regexp.MustCompile(`h\.reject\([^\n]*telemetry\.(Reason\w+)`).FindAllSubmatch(src, -1)
	require.NotEmpty(t, used)
	listed := map[string]bool{}
	for _, r := range Reasons {
		listed[string(r)] = true
	}
	byName := map[string]telemetry.Reason{
		"ReasonMethodNotAllowed": telemetry.ReasonMethodNotAllowed, "ReasonUnauthorized": telemetry.ReasonUnauthorized,
		"ReasonShuttingDown": telemetry.ReasonShuttingDown, "ReasonPayloadTooLarge": telemetry.ReasonPayloadTooLarge,
		"ReasonBadPayload": telemetry.ReasonBadPayload, "ReasonBacklogFull": telemetry.ReasonBacklogFull,
		"ReasonRedisUnavailable": telemetry.ReasonRedisUnavailable, "ReasonReplicasUnavailable": telemetry.ReasonReplicasUnavailable,
	}
	for _, m := range used {
		r, ok := byName[string(m[1])]
		require.True(t, ok, "ingest.go refuses with %s: add it here and to Reasons", m[1])
		require.True(t, listed[string(r)], "%s is not in Reasons", r)
	}
}
