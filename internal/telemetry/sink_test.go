package telemetry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// entrySink keeps the entries a Logger hands its Sink, with their own
// fields as a map.
type entrySink struct {
	entries []Entry
	fields  []map[string]any
}

func (s *entrySink) Record(e Entry) {
	m := zapcore.NewMapObjectEncoder()
	e.EncodeFields(m)
	e.fields = nil // not valid after Record
	s.entries = append(s.entries, e)
	s.fields = append(s.fields, m.Fields)
}

// TestSinkGetsEventsAboutUpdates: only enabled events with a cid reach the
// Sink, with the header and identity decoded and the own fields apart,
// secrets redacted from them.
func TestSinkGetsEventsAboutUpdates(t *testing.T) {
	sink := &entrySink{}
	l, _ := newTestLogger(t, FormatKV, func(o *Options) {
		o.Sink = sink
		o.Level = zapcore.WarnLevel
		o.Instance = "node-a"
		o.Secrets = []string{testToken}
	})
	l.SetRole(func() string { return RoleActive })
	ctx := WithUpdate(context.Background(), testUpdate)
	l.CallbackReceived(ctx, "x") // info: below the level
	l.CallbackRejected(ctx, ReasonStateMismatch, "expired "+testToken, "A", "B")
	l.LeaseLost(0, 1, "x", "gone") // no cid
	l.Service(zapcore.ErrorLevel, EvRedisError, "no update")
	require.Len(t, sink.entries, 1)
	e := sink.entries[0]
	require.Equal(t, string(EvCallbackRejected), e.Name)
	require.Equal(t, zapcore.WarnLevel, e.Level)
	require.Equal(t, "node-a", e.Instance)
	require.Equal(t, RoleActive, e.Role)
	require.Equal(t, string(DomainUX), e.Domain)
	require.Equal(t, testUpdate.CID, e.Update.CID)
	require.Equal(t, testUpdate.UpdateID, e.Update.UpdateID)
	require.Equal(t, testUpdate.UserID, e.Update.UserID)
	require.Equal(t, testUpdate.ChatID, e.Update.ChatID)
	require.WithinDuration(t, time.Now(), e.Time, time.Minute)
	require.Equal(t, map[string]any{FReasonCode: string(ReasonStateMismatch), FReasonText: "expired " + Redacted,
		FExpectedState: "A", FActualState: "B"}, sink.fields[0])
}

// TestEntryFieldsRedactEveryForm: free-form fields of every kind lose the
// secrets on their way to a Sink, as the line does.
func TestEntryFieldsRedactEveryForm(t *testing.T) {
	sink := &entrySink{}
	l, out := newTestLogger(t, FormatJSON, func(o *Options) {
		o.Sink = sink
		o.Level = zapcore.DebugLevel
		o.Secrets = []string{testToken}
	})
	ctx := WithUpdate(context.Background(), testUpdate)
	l.Debug(ctx, EvDispatchStart, zap.String("s", testToken), zap.ByteString("b", []byte(testToken)),
		zap.Strings("a", []string{"x", testToken}), zap.Any("r", map[string]string{"k": testToken}),
		zap.Error(fmt.Errorf("get /bot%s: refused", testToken)))
	require.Len(t, sink.entries, 1)
	require.NotContains(t, fmt.Sprint(sink.fields[0]), testToken)
	require.NotContains(t, out.String(), testToken)
	require.Contains(t, fmt.Sprint(sink.fields[0]), Redacted)
}
