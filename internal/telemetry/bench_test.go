package telemetry

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

var (
	benchButtons = []ButtonID{"mp_model_1", "mp_model_2", "mp_model_3", "back"}
	benchErr     = errors.New(`telegram: sendMessage: Post "https://api.telegram.org/bot[REDACTED]/sendMessage": EOF`)
)

// benchEvents are the events of a callback's dispatch, each called the way
// a handler calls it.
var benchEvents = []struct {
	name string
	call func(l *Logger, ctx context.Context)
}{
	{"QueueEnqueue", func(l *Logger, ctx context.Context) { l.QueueEnqueue(ctx, "callback_query", 0, 12, "1732834000000-0") }},
	{"DispatchOK", func(l *Logger, ctx context.Context) { l.DispatchOK(ctx, 9*time.Millisecond, 0, 7) }},
	{"CallbackReceived", func(l *Logger, ctx context.Context) { l.CallbackReceived(ctx, "v1|mm|img") }},
	{"CallbackRejected", func(l *Logger, ctx context.Context) {
		l.CallbackRejected(ctx, ReasonStateMismatch, "Button expired, use /start", "MODEL_PICK", "MAIN_MENU")
	}},
	{"UIRender", func(l *Logger, ctx context.Context) { l.UIRender(ctx, "MODEL_PICK", benchButtons) }},
	{"TelegramAPIError", func(l *Logger, ctx context.Context) { l.TelegramAPIError(ctx, "sendMessage", 502, 0, benchErr) }},
}

func benchLogger(tb testing.TB, format string, lvl zapcore.Level, secrets bool) *Logger {
	tb.Helper()
	o := Options{Format: format, Level: lvl, Instance: "node-a", Output: io.Discard}
	if secrets {
		o.Secrets = []string{testToken, testSecret}
	}
	l, err := New(o)
	require.NoError(tb, err)
	l.SetRole(func() string { return RoleActive })
	return l
}

// BenchmarkEvents: one event written to io.Discard at an enabled level,
// with the bot token and webhook secret configured for redaction.
func BenchmarkEvents(b *testing.B) {
	ctx := WithUpdate(context.Background(), testUpdate)
	for _, format := range []string{FormatJSON, FormatKV} {
		l := benchLogger(b, format, zapcore.InfoLevel, true)
		for _, ev := range benchEvents {
			b.Run(format+"/"+ev.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					ev.call(l, ctx)
				}
			})
		}
	}
}

// BenchmarkEventsDisabled: the same events with the level above them.
func BenchmarkEventsDisabled(b *testing.B) {
	ctx := WithUpdate(context.Background(), testUpdate)
	l := benchLogger(b, FormatJSON, zapcore.ErrorLevel, true)
	for _, ev := range benchEvents {
		b.Run(ev.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ev.call(l, ctx)
			}
		})
	}
}

// BenchmarkEventsToSink: json and kv with a Sink (the journal's path; the
// sink here only takes the Entry, journal.Journal.Record encodes it).
func BenchmarkEventsToSink(b *testing.B) {
	ctx := WithUpdate(context.Background(), testUpdate)
	for _, format := range []string{FormatJSON, FormatKV} {
		l, err := New(Options{Format: format, Level: zapcore.InfoLevel, Instance: "node-a", Output: io.Discard,
			Sink: discardSink{}})
		require.NoError(b, err)
		b.Run(format+"/CallbackRejected", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchEvents[3].call(l, ctx)
			}
		})
	}
}

type discardSink struct{}

func (discardSink) Record(Entry) {}

// TestDisabledEventsDoNotAllocate: below the level an event costs no
// allocation (CI runs this; the benchmark gives the time).
func TestDisabledEventsDoNotAllocate(t *testing.T) {
	ctx := WithUpdate(context.Background(), testUpdate)
	l := benchLogger(t, FormatKV, zapcore.FatalLevel, true)
	for _, ev := range benchEvents {
		require.Zero(t, testing.AllocsPerRun(200, func() { ev.call(l, ctx) }), ev.name)
	}
	for _, c := range eventCalls() {
		if c.method == "UIRender" || c.method == "Lib" || c.method == "UpdateRejected" && c.name != EvCallbackRejected {
			continue // their test calls build a slice, an adapter or a context themselves
		}
		require.Zero(t, testing.AllocsPerRun(50, func() { c.call(l, ctx) }), c.method)
	}
}

// TestEnabledEventsAllocateLittle guards the enabled path: at most one
// allocation per event (the strings the caller's values become) without
// the race detector.
func TestEnabledEventsAllocateLittle(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	ctx := WithUpdate(context.Background(), testUpdate)
	for _, format := range []string{FormatJSON, FormatKV} {
		l := benchLogger(t, format, zapcore.InfoLevel, true)
		for _, ev := range benchEvents {
			n := testing.AllocsPerRun(200, func() { ev.call(l, ctx) })
			require.LessOrEqual(t, n, 1.0, "%s %s", format, ev.name)
		}
	}
}
