package journal

import "github.com/dispatcher-bot/dispatcher/internal/telemetry"

// The tables below give the one-byte codes the journal stores instead of
// event names, field keys and common values. Chains written by one release
// are read by the next, so the tables only ever grow at their end: a code,
// once given, keeps its meaning (TestCodesAreStable holds them to
// testdata/codes.golden). A name, key or value not in a table is stored
// as text, so an event added elsewhere is journaled before it gets a code.

// eventNames: code i+1 is eventNames[i]; code 0 means the name follows as
// text.
var eventNames = []telemetry.Event{
	telemetry.EvWebhookRejected, telemetry.EvQueueEnqueue, telemetry.EvDuplicateUpdate,
	telemetry.EvQueuePick, telemetry.EvDispatchStart, telemetry.EvDispatchOK, telemetry.EvDispatchFail,
	telemetry.EvDeadLettered, telemetry.EvDLQReplayed,
	telemetry.EvCallbackReceived, telemetry.EvCallbackRouted, telemetry.EvCallbackAccepted,
	telemetry.EvCallbackRejected, telemetry.EvAnswerCallbackQuery,
	telemetry.EvMessageReceived, telemetry.EvMessageRouted, telemetry.EvMessageAccepted, telemetry.EvMessageRejected,
	telemetry.EvUpdateRejected,
	telemetry.EvParamInput, telemetry.EvParamValidationFailed, telemetry.EvParamAccepted,
	telemetry.EvUIRender,
	telemetry.EvLeaseAcquired, telemetry.EvLeaseRenewFailed, telemetry.EvLeaseLost, telemetry.EvLeaseReleased,
	telemetry.EvShardBalance,
	telemetry.EvSilenceWarning, telemetry.EvTelegramAPIError,
	telemetry.EvDebugModeChanged, telemetry.EvDebugPanelShown, telemetry.EvJob,
	telemetry.EvServiceStarting, telemetry.EvServiceReady, telemetry.EvServiceStopping, telemetry.EvServiceStopped,
	telemetry.EvRedisError, telemetry.EvJournalError, telemetry.EvLibraryLog, telemetry.EvJournalEvicted,
}

// Natural types of a field: a field whose value has its key's natural
// type is stored as its key code and the value alone.
const (
	tInt      byte = iota // zigzag varint
	tStr                  // a dictionary index or text (see appendStr)
	tBool                 // one byte
	tFloat                // 8 bytes, IEEE 754, little endian
	tStrs                 // uvarint count, then each as tStr
	tTime                 // zigzag varint of µs after the event's ts
	tStreamID             // zigzag varint of ms after the event's ts, uvarint sequence
	tJSON                 // uvarint length, then JSON text (objects, other arrays)
	numTypes
)

// fieldKey is one entry of fieldKeys.
type fieldKey struct {
	name string
	typ  byte
}

// fieldKeys: code i+1 is fieldKeys[i]; code 0 means the key follows as
// text, with its type. escapeCode introduces a known key whose value has
// another type than its natural one.
var fieldKeys = []fieldKey{
	{telemetry.FUpdateType, tStr}, {telemetry.FShard, tInt}, {telemetry.FQueueDepth, tInt},
	{telemetry.FStreamID, tStreamID}, {telemetry.FWorkerID, tStr}, {telemetry.FDelivery, tInt},
	{telemetry.FWaitMS, tInt}, {telemetry.FDurationMS, tInt}, {telemetry.FToken, tInt},
	{telemetry.FHolder, tStr}, {telemetry.FErrorType, tStr}, {telemetry.FErrorText, tStr},
	{telemetry.FCallbackData, tStr}, {telemetry.FHandler, tStr}, {telemetry.FButtonID, tStr},
	{telemetry.FNextScreen, tStr}, {telemetry.FReasonCode, tStr}, {telemetry.FReasonText, tStr},
	{telemetry.FExpectedState, tStr}, {telemetry.FActualState, tStr}, {telemetry.FText, tStr},
	{telemetry.FCommand, tStr}, {telemetry.FTextLength, tInt}, {telemetry.FParamName, tStr},
	{telemetry.FValue, tStr}, {telemetry.FHintToUser, tStr}, {telemetry.FScreenID, tStr},
	{telemetry.FButtonIDs, tStrs}, {telemetry.FMethod, tStr}, {telemetry.FStatus, tInt},
	{telemetry.FRetryAfter, tInt}, {telemetry.FEnabled, tBool}, {telemetry.FUntil, tTime},
	{telemetry.FTargetUserID, tInt}, {telemetry.FJobID, tStr}, {telemetry.FDLQID, tStr},
	{telemetry.FFailed, tInt}, {telemetry.FDropped, tInt}, {telemetry.FMsg, tStr}, {telemetry.FError, tStr},
	{telemetry.FTier, tStr}, {telemetry.FSegments, tInt}, {telemetry.FBytes, tInt}, {telemetry.FAgeMS, tInt},
	{telemetry.FOriginalCID, tStr},
}

const escapeCode = 0xff

// dictionary holds values many events repeat (update types, reason codes,
// domains, roles, error types); a string in it is stored as its index.
var dictionary = []string{
	"", "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
	"business_message", "edited_business_message", "deleted_business_messages", "message_reaction",
	"message_reaction_count", "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
	"pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member", "chat_member",
	"chat_join_request", "chat_boost", "removed_chat_boost",
	string(telemetry.ReasonCallbackParseError), string(telemetry.ReasonStateMismatch),
	string(telemetry.ReasonValidationFailed), string(telemetry.ReasonDBError), string(telemetry.ReasonPassiveReject),
	string(telemetry.ReasonUnknownAction), string(telemetry.ReasonForbidden), string(telemetry.ReasonHandlerTimeout),
	string(telemetry.ReasonHandlerPanic), string(telemetry.ReasonTelegramAPIError), string(telemetry.ReasonUnauthorized),
	string(telemetry.ReasonBadPayload), string(telemetry.ReasonPayloadTooLarge), string(telemetry.ReasonBacklogFull),
	string(telemetry.ReasonRedisUnavailable), string(telemetry.ReasonMaxDeliveries),
	string(telemetry.ReasonMethodNotAllowed), string(telemetry.ReasonShuttingDown),
	string(telemetry.DomainUX), string(telemetry.DomainQueue), string(telemetry.DomainLease),
	string(telemetry.DomainWebhook), string(telemetry.DomainDB), string(telemetry.DomainTelegram),
	string(telemetry.DomainAdmin),
	telemetry.RoleActive, telemetry.RolePassive,
	"UPSTREAM_STATUS", "UPSTREAM_UNREACHABLE", "answerCallbackQuery", "sendMessage", "editMessageText",
	string(telemetry.ReasonReplicasUnavailable),
}

var (
	eventCode = index(eventNames, func(e telemetry.Event) string { return string(e) })
	keyCode   = index(fieldKeys, func(k fieldKey) string { return k.name })
	dictIndex = index(dictionary, func(s string) string { return s })
)

// index maps each name of a table to its code: position + 1 for events
// and keys (0 is "text follows"), position for the dictionary (the caller
// subtracts one).
func index[T any](table []T, name func(T) string) map[string]int {
	m := make(map[string]int, len(table))
	for i, v := range table {
		m[name(v)] = i + 1
	}
	return m
}
