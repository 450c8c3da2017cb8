package telemetry

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// eventCall is one call of an event method and what it must write.
type eventCall struct {
	method string // the *Logger method called
	name   Event  // the event it writes
	reason Reason // for events whose domain is DomainOf(reason)
	fields []string
	call   func(l *Logger, ctx context.Context)
}

var testUpdate = Update{CID: "a1b2c3d4", UpdateID: 1001, Type: "callback_query", UserID: 42, ChatID: -100123}

// eventCalls exercises every event method, each variant once.
func eventCalls() []eventCall {
	errBoom := errors.New("boom")
	return []eventCall{
		{"WebhookRejected", EvWebhookRejected, "", []string{FReasonCode, FReasonText, FStatus},
			func(l *Logger, ctx context.Context) {
				l.WebhookRejected(context.Background(), ReasonUnauthorized, 401, "missing secret")
			}},
		{"QueueEnqueue", EvQueueEnqueue, "", []string{FUpdateType, FShard, FQueueDepth, FStreamID},
			func(l *Logger, ctx context.Context) { l.QueueEnqueue(ctx, "callback_query", 0, 3, "1-0") }},
		{"QueueEnqueueAt", EvQueueEnqueue, "", []string{FUpdateType, FShard, FQueueDepth, FStreamID},
			func(l *Logger, ctx context.Context) { l.QueueEnqueueAt(ctx, time.Now(), "callback_query", 0, 3, "1-0") }},
		{"DuplicateUpdate", EvDuplicateUpdate, "", []string{FShard},
			func(l *Logger, ctx context.Context) { l.DuplicateUpdate(ctx, 0, "") }},
		{"DuplicateUpdate", EvDuplicateUpdate, "", []string{FShard, FOriginalCID},
			func(l *Logger, ctx context.Context) { l.DuplicateUpdate(ctx, 0, "5f3a9c1e") }},
		{"QueuePick", EvQueuePick, "", []string{FWorkerID, FShard, FDelivery, FWaitMS},
			func(l *Logger, ctx context.Context) { l.QueuePick(ctx, "w3", 0, 1, 12*time.Millisecond) }},
		{"DispatchStart", EvDispatchStart, "", []string{FShard, FToken},
			func(l *Logger, ctx context.Context) { l.DispatchStart(ctx, 0, 7) }},
		{"DispatchStartAt", EvDispatchStart, "", []string{FShard, FToken},
			func(l *Logger, ctx context.Context) { l.DispatchStartAt(ctx, time.Now(), 0, 7) }},
		{"DispatchOK", EvDispatchOK, "", []string{FDurationMS, FShard, FToken},
			func(l *Logger, ctx context.Context) { l.DispatchOK(ctx, 35*time.Millisecond, 0, 7) }},
		{"DispatchFail", EvDispatchFail, "", []string{FDurationMS, FErrorType, FErrorText, FShard, FToken, FDelivery},
			func(l *Logger, ctx context.Context) {
				l.DispatchFail(ctx, time.Second, string(ReasonHandlerTimeout), errBoom, 0, 7, 2)
			}},
		{"DeadLettered", EvDeadLettered, "", []string{FReasonCode, FReasonText, FShard, FDelivery},
			func(l *Logger, ctx context.Context) { l.DeadLettered(ctx, 0, 5, ReasonMaxDeliveries, "boom") }},
		{"DispatchAbandoned", EvDispatchAbandoned, ReasonHandlerAbandoned, []string{FReasonCode, FReasonText, FDurationMS, FShard, FToken},
			func(l *Logger, ctx context.Context) {
				l.DispatchAbandoned(ctx, 2*time.Minute, "ignores its context", 0, 7)
			}},
		{"DLQReplayed", EvDLQReplayed, "", []string{FShard, FDLQID, FStreamID},
			func(l *Logger, ctx context.Context) { l.DLQReplayed(ctx, time.Time{}, 0, "5-0", "9-0") }},
		{"DecodeIncomplete", EvDecodeIncomplete, "", []string{FUpdateType, FReasonCode, FReasonText},
			func(l *Logger, ctx context.Context) { l.DecodeIncomplete(ctx, "message_reaction", errBoom) }},
		{"UpdateRejected", EvCallbackRejected, ReasonPassiveReject, []string{FReasonCode, FReasonText},
			func(l *Logger, ctx context.Context) {
				l.UpdateRejected(ctx, ReasonPassiveReject, "Instance not ACTIVE")
			}},
		{"UpdateRejected", EvMessageRejected, ReasonPassiveReject, []string{FReasonCode, FReasonText},
			func(l *Logger, ctx context.Context) {
				u, _ := UpdateFrom(ctx)
				u.Type = "message"
				l.UpdateRejected(WithUpdate(ctx, u), ReasonPassiveReject, "Instance not ACTIVE")
			}},
		{"UpdateRejected", EvUpdateRejected, ReasonPassiveReject, []string{FReasonCode, FReasonText},
			func(l *Logger, ctx context.Context) {
				u, _ := UpdateFrom(ctx)
				u.Type = "inline_query"
				l.UpdateRejected(WithUpdate(ctx, u), ReasonPassiveReject, "Instance not ACTIVE")
			}},
		{"CallbackReceived", EvCallbackReceived, "", []string{FCallbackData},
			func(l *Logger, ctx context.Context) { l.CallbackReceived(ctx, "v1|mm|img") }},
		{"CallbackRouted", EvCallbackRouted, "", []string{FHandler, FButtonID},
			func(l *Logger, ctx context.Context) { l.CallbackRouted(ctx, "menu.category", "mm_cat_image") }},
		{"CallbackAccepted", EvCallbackAccepted, "", []string{FNextScreen},
			func(l *Logger, ctx context.Context) { l.CallbackAccepted(ctx, "MODEL_PICK") }},
		{"CallbackRejected", EvCallbackRejected, ReasonStateMismatch, []string{FReasonCode, FReasonText, FExpectedState, FActualState},
			func(l *Logger, ctx context.Context) {
				l.CallbackRejected(ctx, ReasonStateMismatch, "Button expired, use /start", "MODEL_PICK", "MAIN_MENU")
			}},
		{"CallbackRejected", EvCallbackRejected, ReasonDBError, []string{FReasonCode, FReasonText},
			func(l *Logger, ctx context.Context) { l.CallbackRejected(ctx, ReasonDBError, "Try again", "", "") }},
		{"AnswerCallbackQuery", EvAnswerCallbackQuery, "", []string{FText},
			func(l *Logger, ctx context.Context) { l.AnswerCallbackQuery(ctx, "") }},
		{"MessageReceived", EvMessageReceived, "", []string{FCommand},
			func(l *Logger, ctx context.Context) { l.MessageReceived(ctx, "/start", 6) }},
		{"MessageReceived", EvMessageReceived, "", []string{FTextLength},
			func(l *Logger, ctx context.Context) { l.MessageReceived(ctx, "", 17) }},
		{"MessageRouted", EvMessageRouted, "", []string{FHandler},
			func(l *Logger, ctx context.Context) { l.MessageRouted(ctx, "start") }},
		{"MessageAccepted", EvMessageAccepted, "", []string{FNextScreen},
			func(l *Logger, ctx context.Context) { l.MessageAccepted(ctx, "MAIN_MENU") }},
		{"MessageRejected", EvMessageRejected, ReasonForbidden, []string{FReasonCode, FReasonText},
			func(l *Logger, ctx context.Context) { l.MessageRejected(ctx, ReasonForbidden, "Admins only", "", "") }},
		{"MessageRejected", EvMessageRejected, ReasonStateMismatch, []string{FReasonCode, FReasonText, FExpectedState, FActualState},
			func(l *Logger, ctx context.Context) {
				l.MessageRejected(ctx, ReasonStateMismatch, "Use the buttons", "PARAM_INPUT", "")
			}},
		{"ParamInput", EvParamInput, "", []string{FParamName, FValue},
			func(l *Logger, ctx context.Context) { l.ParamInput(ctx, "prompt", "a cat") }},
		{"ParamValidationFailed", EvParamValidationFailed, "", []string{FParamName, FReasonCode, FHintToUser},
			func(l *Logger, ctx context.Context) {
				l.ParamValidationFailed(ctx, "prompt", ReasonValidationFailed, "At least 5 characters")
			}},
		{"ParamAccepted", EvParamAccepted, "", []string{FParamName, FValue},
			func(l *Logger, ctx context.Context) { l.ParamAccepted(ctx, "prompt", "a cat on a mat") }},
		{"UIRender", EvUIRender, "", []string{FScreenID, FButtonIDs},
			func(l *Logger, ctx context.Context) {
				l.UIRender(ctx, "MODEL_PICK", []ButtonID{"mp_model_1", "mp_model_2", "back"})
			}},
		{"LeaseAcquired", EvLeaseAcquired, "", []string{FShard, FToken, FHolder},
			func(l *Logger, ctx context.Context) { l.LeaseAcquired(0, 7, "node-a") }},
		{"LeaseRenewFailed", EvLeaseRenewFailed, "", []string{FShard, FToken, FHolder, FError},
			func(l *Logger, ctx context.Context) { l.LeaseRenewFailed(0, 7, "node-a", errBoom) }},
		{"LeaseLost", EvLeaseLost, "", []string{FShard, FToken, FHolder, FReasonText},
			func(l *Logger, ctx context.Context) { l.LeaseLost(0, 7, "node-a", "taken over by node-b") }},
		{"LeaseReleased", EvLeaseReleased, "", []string{FShard, FToken, FHolder},
			func(l *Logger, ctx context.Context) { l.LeaseReleased(0, 7, "node-a") }},
		{"PollStarted", EvPollStarted, "", []string{FToken},
			func(l *Logger, ctx context.Context) { l.PollStarted(7) }},
		{"PollStopped", EvPollStopped, "", []string{FToken, FReasonText},
			func(l *Logger, ctx context.Context) { l.PollStopped(7, "", "shutting down") }},
		{"PollStopped", EvPollStopped, "", []string{FToken, FReasonText, FReasonCode},
			func(l *Logger, ctx context.Context) { l.PollStopped(7, ReasonFenced, "a newer poller took over") }},
		{"PollBatch", EvPollBatch, "", []string{FCount, FOffset},
			func(l *Logger, ctx context.Context) { l.PollBatch(3, 1004) }},
		{"PollBackoff", EvPollBackoff, ReasonTelegramAPIError, []string{FReasonCode, FReasonText, FBackoffMS, FStatus, FRetryAfter},
			func(l *Logger, ctx context.Context) {
				l.PollBackoff(ctx, ReasonTelegramAPIError, "getUpdates: 429", 3*time.Second, 429, 3)
			}},
		{"PollBackoff", EvPollBackoff, ReasonBacklogFull, []string{FReasonCode, FReasonText, FBackoffMS},
			func(l *Logger, ctx context.Context) {
				l.PollBackoff(ctx, ReasonBacklogFull, "backlog of shard 0 is full", time.Second, 0, 0)
			}},
		{"PollSkipped", EvPollSkipped, "", []string{FReasonCode, FReasonText},
			func(l *Logger, ctx context.Context) { l.PollSkipped(ReasonBadPayload, "update 7 is not an Update") }},
		{"WebhookConflict", EvWebhookConflict, "", []string{FMsg, FBackoffMS},
			func(l *Logger, ctx context.Context) { l.WebhookConflict("a webhook is set", time.Second) }},
		{"QueueEnqueueFrom", EvQueueEnqueue, "", []string{FUpdateType, FShard, FQueueDepth, FStreamID, FSource},
			func(l *Logger, ctx context.Context) {
				l.QueueEnqueueFrom(ctx, time.Now(), "poll", "message", 0, 3, "1-0")
			}},
		{"DuplicateUpdateFrom", EvDuplicateUpdate, "", []string{FShard, FOriginalCID, FSource},
			func(l *Logger, ctx context.Context) { l.DuplicateUpdateFrom(ctx, "poll", 0, "5f3a9c1e") }},
		{"SilenceWarning", EvSilenceWarning, "", []string{FReasonText},
			func(l *Logger, ctx context.Context) { l.SilenceWarning(ctx, "no answerCallbackQuery") }},
		{"TelegramAPIError", EvTelegramAPIError, "", []string{FMethod, FStatus, FRetryAfter, FReasonCode, FError},
			func(l *Logger, ctx context.Context) { l.TelegramAPIError(ctx, "sendMessage", 429, 3, errBoom) }},
		{"BotAPICall", EvBotAPICall, "", []string{FMethod, FStatus, FDurationMS},
			func(l *Logger, ctx context.Context) { l.BotAPICall(ctx, "sendMessage", 200, 42*time.Millisecond) }},
		{"DebugModeChanged", EvDebugModeChanged, "", []string{FEnabled, FUntil},
			func(l *Logger, ctx context.Context) {
				l.DebugModeChanged(context.Background(), true, time.Date(2026, 11, 28, 23, 0, 0, 0, time.UTC))
			}},
		{"DebugModeChanged", EvDebugModeChanged, "", []string{FEnabled},
			func(l *Logger, ctx context.Context) { l.DebugModeChanged(context.Background(), false, time.Time{}) }},
		{"DebugPanelShown", EvDebugPanelShown, "", []string{FTargetUserID},
			func(l *Logger, ctx context.Context) { l.DebugPanelShown(ctx, 42) }},
		{"OpsAction", EvOpsAction, "", []string{FAction, FOperator, FRemoteAddr, FTarget, FCount},
			func(l *Logger, ctx context.Context) {
				l.OpsAction(context.Background(), OpsDLQReplay, "alice", "127.0.0.1:5000", "0/1-0", 1, nil)
			}},
		{"OpsAction", EvOpsAction, "", []string{FAction, FOperator, FRemoteAddr, FTarget, FCount, FError},
			func(l *Logger, ctx context.Context) {
				l.OpsAction(context.Background(), OpsDLQDrop, "alice", "127.0.0.1:5000", "0/1-0", 0, errBoom)
			}},
		{"OpsAction", EvOpsAction, "", []string{FAction, FOperator, FRemoteAddr, FTarget},
			func(l *Logger, ctx context.Context) {
				l.OpsAction(context.Background(), OpsDebugOn, "alice", "127.0.0.1:5000", "30m", -1, nil)
			}},
		{"OpsDenied", EvOpsDenied, "", []string{FReasonCode, FReasonText, FRemoteAddr},
			func(l *Logger, ctx context.Context) {
				l.OpsDenied(context.Background(), ReasonUnauthorized, "wrong OPS_TOKEN", "127.0.0.1:5000")
			}},
		{"JobQueued", EvJob, "", []string{FJobID, FShard},
			func(l *Logger, ctx context.Context) { l.JobQueued(ctx, "j-1", 0) }},
		{"Service", EvServiceStarting, "", []string{FMsg},
			func(l *Logger, ctx context.Context) { l.Service(zapcore.InfoLevel, EvServiceStarting, "starting") }},
		{"Service", EvServiceReady, "", []string{FMsg},
			func(l *Logger, ctx context.Context) { l.Service(zapcore.InfoLevel, EvServiceReady, "ready") }},
		{"Service", EvShardBalance, "", []string{FMsg},
			func(l *Logger, ctx context.Context) {
				l.Service(zapcore.InfoLevel, EvShardBalance, "shard balance: 3 live instance(s), at most 2 of 6 shards each")
			}},
		{"Service", EvServiceStopping, "", []string{FMsg},
			func(l *Logger, ctx context.Context) { l.Service(zapcore.InfoLevel, EvServiceStopping, "stopping") }},
		{"Service", EvServiceStopped, "", []string{FMsg},
			func(l *Logger, ctx context.Context) { l.Service(zapcore.InfoLevel, EvServiceStopped, "stopped") }},
		{"Service", EvRedisError, "", []string{FMsg},
			func(l *Logger, ctx context.Context) { l.Service(zapcore.WarnLevel, EvRedisError, "redis down") }},
		{"Service", EvJournalError, "", []string{FMsg, FReasonCode, FFailed, FDropped, FError},
			func(l *Logger, ctx context.Context) {
				l.Service(zapcore.WarnLevel, EvJournalError, "journal", zap.String(FReasonCode, string(ReasonRedisUnavailable)),
					zap.Int64(FFailed, 3), zap.Int64(FDropped, 0), zap.String(FError, "refused"))
			}},
		{"Service", EvJournalEvicted, "", []string{FMsg, FTier, FSegments, FBytes, FAgeMS},
			func(l *Logger, ctx context.Context) {
				l.Service(zapcore.InfoLevel, EvJournalEvicted, "journal budget", zap.String(FTier, "ok"),
					zap.Int(FSegments, 2), zap.Int64(FBytes, 4096), zap.Int64(FAgeMS, 60000))
			}},
		{"Service", EvDeploymentRefused, "", []string{FMsg, FReasonCode, FReasonText},
			func(l *Logger, ctx context.Context) {
				l.Service(zapcore.ErrorLevel, EvDeploymentRefused, "SANDBOX: refused", zap.String(FReasonCode, string(ReasonModeMismatch)),
					zap.String(FReasonText, "this instance runs in sandbox mode, but the deployment records real mode"))
			}},
		{"Service", EvWebhookUnhealthy, "", []string{FMsg, FReasonCode, FReasonText, FWebhookError, FPendingUpdates, FURL},
			func(l *Logger, ctx context.Context) {
				l.Service(zapcore.WarnLevel, EvWebhookUnhealthy, "webhook", zap.String(FReasonCode, string(ReasonWebhookDeliveryFailed)),
					zap.String(FReasonText, "Wrong response from the webhook: 502 Bad Gateway"), zap.String(FWebhookError, "HTTP_5XX"),
					zap.Int(FPendingUpdates, 4), zap.String(FURL, "https://bot.example.com/webhook"))
			}},
		{"Lib", EvLibraryLog, "", []string{FMsg},
			func(l *Logger, ctx context.Context) { l.Lib(DomainQueue).Errorf("request failed: %d", 3) }},
		{"Zap", EvLibraryLog, "", []string{FMsg},
			func(l *Logger, ctx context.Context) { l.Zap().Info("something happened") }},
	}
}

// callLevel is the level a call writes at: the spec's, but Lib's Errorf
// writes at error.
func callLevel(c eventCall) zapcore.Level {
	if c.method == "Lib" {
		return zapcore.ErrorLevel
	}
	s, _ := SpecOf(c.name)
	return s.Level
}

var tsRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// TestEveryEventMatchesContract renders every event method in both formats
// and checks name, level, domain and fields against spec.go, field order
// included.
func TestEveryEventMatchesContract(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatKV} {
		t.Run(format, func(t *testing.T) {
			for _, c := range eventCalls() {
				l, buf := newTestLogger(t, format)
				l.SetRole(func() string { return RoleActive })
				c.call(l, WithUpdate(context.Background(), testUpdate))
				lines := splitLines(t, buf.String())
				require.Len(t, lines, 1, "%s: one line", c.method)
				p, err := parseLine(format, lines[0])
				require.NoError(t, err, "%s: %s", c.method, lines[0])

				spec, ok := SpecOf(c.name)
				require.True(t, ok, "%s has no spec", c.name)
				require.Equal(t, string(c.name), p.get(FName), lines[0])
				require.Equal(t, callLevel(c).String(), p.get(FLevel), lines[0])
				require.Regexp(t, tsRE, p.get(FTS))
				require.Equal(t, "node-a", p.get(FInstance))
				require.Equal(t, RoleActive, p.get(FRole))
				wantDomain := spec.Domain
				if spec.ByReason {
					wantDomain = DomainOf(c.reason)
					require.Equal(t, string(c.reason), p.get(FReasonCode))
				}
				require.Equal(t, string(wantDomain), p.get(FDomain), lines[0])

				want := []string{FTS, FLevel, FName, FInstance, FRole, FDomain}
				if spec.Update {
					want = append(want, FCID, FUpdateID, FUserID, FChatID)
					require.Equal(t, "a1b2c3d4", p.get(FCID))
					require.Equal(t, "1001", p.get(FUpdateID))
					require.Equal(t, "42", p.get(FUserID))
					require.Equal(t, "-100123", p.get(FChatID))
				}
				want = append(want, c.fields...)
				require.Equal(t, want, p.keys, "%s: fields", c.method)
				for _, f := range c.fields {
					require.True(t, slices.Contains(spec.Fields, f) || slices.Contains(spec.Optional, f),
						"%s: field %s not in the contract of %s", c.method, f, c.name)
				}
				for _, f := range spec.Fields {
					require.Contains(t, c.fields, f, "%s: required field %s missing", c.method, f)
				}
			}
		})
	}
}

// TestEveryEventIsCovered fails when an event of the spec or an event
// method of *Logger has no entry in eventCalls.
func TestEveryEventIsCovered(t *testing.T) {
	calls := eventCalls()
	names := map[Event]bool{}
	methods := map[string]bool{}
	for _, c := range calls {
		names[c.name] = true
		methods[c.method] = true
	}
	for _, s := range Specs() {
		require.True(t, names[s.Name], "event %s has no test call", s.Name)
	}
	notEvents := map[string]bool{"Level": true, "Enabled": true, "SetDebug": true, "SetRole": true,
		"Sync": true, "Debug": true, "Role": true, "With": true, "Text": true}
	typ := reflect.TypeFor[*Logger]()
	for i := 0; i < typ.NumMethod(); i++ {
		m := typ.Method(i).Name
		if notEvents[m] {
			continue
		}
		require.True(t, methods[m], "method %s of *Logger has no test call", m)
	}
}

func TestSpecTable(t *testing.T) {
	seen := map[Event]bool{}
	for _, s := range specs {
		require.False(t, seen[s.Name], "repeated spec %s", s.Name)
		seen[s.Name] = true
		require.NotEmpty(t, s.Doc, s.Name)
		require.NotEmpty(t, s.Domain, s.Name)
	}
	seenR := map[Reason]bool{}
	for _, r := range reasons {
		require.False(t, seenR[r.Code])
		seenR[r.Code] = true
		require.Equal(t, DomainOf(r.Code), r.Domain, r.Code)
	}
	// the contract's reason codes (CONTRACT §5) are all there
	for _, r := range []Reason{ReasonCallbackParseError, ReasonStateMismatch, ReasonValidationFailed, ReasonDBError,
		ReasonPassiveReject, ReasonUnknownAction, ReasonForbidden, ReasonHandlerTimeout, ReasonHandlerPanic,
		ReasonTelegramAPIError, ReasonUnauthorized, ReasonBadPayload, ReasonPayloadTooLarge, ReasonBacklogFull,
		ReasonRedisUnavailable, ReasonMaxDeliveries} {
		require.True(t, seenR[r], r)
	}
}

func TestTimestampIsUTCMilliseconds(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatKV} {
		l, buf := newTestLogger(t, format)
		before := time.Now().UTC().Truncate(time.Millisecond)
		l.DispatchStart(context.Background(), 0, 1)
		p, err := parseLine(format, splitLines(t, buf.String())[0])
		require.NoError(t, err)
		ts, err := time.Parse(time.RFC3339Nano, p.get(FTS))
		require.NoError(t, err)
		require.False(t, ts.Before(before), "%s %s", ts, before)
		require.WithinDuration(t, time.Now(), ts, 5*time.Second)
	}
}

func TestUnknownFormat(t *testing.T) {
	_, err := New(Options{Format: "xml"})
	require.ErrorIs(t, err, ErrFormat)
}

func TestUserTextIsShortened(t *testing.T) {
	long := strings.Repeat("ж", 200)
	for _, format := range []string{FormatJSON, FormatKV} {
		l, buf := newTestLogger(t, format)
		ctx := WithUpdate(context.Background(), testUpdate)
		l.ParamInput(ctx, "prompt", long)
		l.CallbackReceived(ctx, long)
		l.CallbackRejected(ctx, ReasonStateMismatch, long, ScreenID(long), "")
		for _, line := range splitLines(t, buf.String()) {
			p, err := parseLine(format, line)
			require.NoError(t, err)
			for _, k := range []string{FValue, FCallbackData, FReasonText, FExpectedState} {
				if v, ok := p.vals[k]; ok {
					require.LessOrEqual(t, len([]rune(v)), MaxUserText, k)
					require.True(t, strings.HasSuffix(v, "…"), k)
				}
			}
		}
	}
}

func TestDisabledLevelWritesNothing(t *testing.T) {
	l, buf := newTestLogger(t, FormatJSON, func(o *Options) { o.Level = zapcore.ErrorLevel })
	for _, c := range eventCalls() {
		if callLevel(c) < zapcore.ErrorLevel {
			c.call(l, WithUpdate(context.Background(), testUpdate))
		}
	}
	require.Empty(t, buf.String())
	l.SetDebug(true)
	l.Debug(context.Background(), EvQueuePick, zap.String("k", "v"))
	require.NotEmpty(t, buf.String())
	l.SetDebug(false)
	require.Equal(t, zapcore.ErrorLevel, l.Level())
}

func TestNop(t *testing.T) {
	l := Nop()
	l.SetDebug(true)
	for _, c := range eventCalls() {
		c.call(l, WithUpdate(context.Background(), testUpdate))
	}
	require.False(t, l.Enabled(zapcore.ErrorLevel))
}
