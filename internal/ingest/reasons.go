package ingest

import "github.com/dispatcher-bot/dispatcher/internal/telemetry"

// Reasons are the reason codes the webhook refuses a request with; the
// metrics create dispatcher_webhook_rejections_total at 0 for each.
var Reasons = []telemetry.Reason{
	telemetry.ReasonMethodNotAllowed, telemetry.ReasonUnauthorized, telemetry.ReasonShuttingDown,
	telemetry.ReasonPayloadTooLarge, telemetry.ReasonBadPayload, telemetry.ReasonBacklogFull,
	telemetry.ReasonRedisUnavailable, telemetry.ReasonReplicasUnavailable,
}

// ReasonNames returns Reasons as strings (label values).
func ReasonNames() []string {
	out := make([]string, len(Reasons))
	for i, r := range Reasons {
		out[i] = string(r)
	}
	return out
}
