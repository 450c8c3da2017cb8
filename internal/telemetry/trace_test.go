package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chainOf logs a callback chain through two Loggers into one sink and
// decodes it, as Journal.Chain would return it (unsorted on purpose).
func chainOf(t *testing.T, text string) []JournalEvent {
	t.Helper()
	sink := &recordSink{}
	a, _ := newTestLogger(t, FormatKV, func(o *Options) { o.Instance = "node-a"; o.Sink = sink })
	b, _ := newTestLogger(t, FormatJSON, func(o *Options) { o.Instance = "node-b"; o.Sink = sink })
	b.SetRole(func() string { return RoleActive })
	ctx := WithUpdate(context.Background(), testUpdate)
	a.QueueEnqueue(ctx, "callback_query", 0, 1, "1-0")
	b.CallbackReceived(ctx, "v1|mm|img")
	b.CallbackRejected(ctx, ReasonStateMismatch, text, "MODEL_PICK", "MAIN_MENU")
	b.AnswerCallbackQuery(ctx, "Button expired, use /start")
	var events []JournalEvent
	base := time.Date(2026, 11, 28, 22, 45, 52, 0, time.UTC)
	for i, l := range sink.lines {
		e, err := DecodeEvent([]byte(l))
		require.NoError(t, err)
		// distinct ts, 3 ms apart, so that the order must come from ts
		e[FTS] = base.Add(time.Duration(i) * 3 * time.Millisecond).Format(tsLayout)
		events = append(events, e)
	}
	// newest first, as a careless reader might return them
	for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
		events[i], events[j] = events[j], events[i]
	}
	return events
}

func TestWriteTraceTable(t *testing.T) {
	events := chainOf(t, "Button expired, use /start")
	var out bytes.Buffer
	require.NoError(t, WriteTrace(&out, events, false))
	t.Logf("\n%s", out.String())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 2+4)
	require.Equal(t, "cid=a1b2c3d4 update_id=1001 user_id=42 chat_id=-100123 events=4 instances=node-a,node-b", lines[0])
	require.Regexp(t, `^TS\s+\+MS\s+INSTANCE\s+ROLE\s+DOMAIN\s+EVENT\s+DETAILS$`, lines[1])
	for i, name := range []string{"QUEUE_ENQUEUE", "CALLBACK_RECEIVED", "CALLBACK_REJECTED", "ANSWER_CALLBACK_QUERY"} {
		require.Contains(t, lines[2+i], " "+name+" ", lines[2+i])
	}
	require.Regexp(t, `node-a\s+PASSIVE\s+QUEUE\s+QUEUE_ENQUEUE\s+update_type=callback_query shard=0`, lines[2])
	require.Contains(t, lines[4], `reason_code=STATE_MISMATCH reason_text="Button expired, use /start" expected_state=MODEL_PICK actual_state=MAIN_MENU`)
	require.Regexp(t, `^2026-11-28T22:45:52.000000Z\s+\+0\s`, lines[2])
	require.Regexp(t, `^2026-11-28T22:45:52.009000Z\s+\+9\s`, lines[5])
}

// TestWriteTraceCannotBeForged: a reason text holding newlines and tabs
// stays inside its cell.
func TestWriteTraceCannotBeForged(t *testing.T) {
	events := chainOf(t, "x\n2026-01-01T00:00:00.000Z\t+0\tnode-z\tACTIVE\tUX\tCALLBACK_ACCEPTED\tnext_screen=X")
	var out bytes.Buffer
	require.NoError(t, WriteTrace(&out, events, false))
	require.Equal(t, 6, strings.Count(out.String(), "\n"))
	require.NotContains(t, out.String(), "\t")
	require.Equal(t, 1, strings.Count(out.String(), "CALLBACK_REJECTED"))
}

func TestWriteTraceJSON(t *testing.T) {
	events := chainOf(t, "Button expired, use /start")
	var out bytes.Buffer
	require.NoError(t, WriteTrace(&out, events, true))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 4)
	var names []string
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		names = append(names, m[FName].(string))
		require.Equal(t, "a1b2c3d4", m[FCID])
		require.EqualValues(t, 1001, m[FUpdateID])
	}
	require.Equal(t, []string{"QUEUE_ENQUEUE", "CALLBACK_RECEIVED", "CALLBACK_REJECTED", "ANSWER_CALLBACK_QUERY"}, names)
}

func TestWriteTraceEmpty(t *testing.T) {
	var out bytes.Buffer
	require.ErrorIs(t, WriteTrace(&out, nil, false), ErrNoEvents)
	require.ErrorIs(t, WriteTrace(&out, nil, true), ErrNoEvents)
	require.Zero(t, out.Len())
}

func TestDecodeEvent(t *testing.T) {
	e, err := DecodeEvent([]byte(`{"name":"X","token":1732834000123456,"user_id":42}`))
	require.NoError(t, err)
	n, ok := e.Int(FToken)
	require.True(t, ok)
	require.Equal(t, int64(1732834000123456), n) // exact, not through float64
	_, ok = e.Int(FName)
	require.False(t, ok)
	_, err = DecodeEvent([]byte(`not json`))
	require.Error(t, err)
	_, err = DecodeEvent([]byte(`null`))
	require.Error(t, err)
}
