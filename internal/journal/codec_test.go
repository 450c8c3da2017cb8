package journal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// captureSink encodes each entry as the journal does and keeps its JSON
// line too.
type captureSink struct {
	events []*event
	lines  [][]byte
}

func (s *captureSink) Record(e telemetry.Entry) {
	s.events = append(s.events, encodeEntry(&e))
	s.lines = append(s.lines, e.JSON())
}

var testUpdate = telemetry.Update{CID: "0a1b2c3d", UpdateID: 700003, Type: "callback_query", UserID: 5550001, ChatID: 5550001}

// logEverything logs a representative event of every kind of field.
func logEverything(l *telemetry.Logger, ctx context.Context) {
	l.QueueEnqueue(ctx, "callback_query", 0, 12, "1795907793951-3")
	l.QueuePick(ctx, "w2", 0, 1, 4*time.Millisecond)
	l.DispatchStart(ctx, 0, 1795907791143524)
	l.CallbackReceived(ctx, "v1:cat:text@mmx114pnb")
	l.CallbackRouted(ctx, "category", "cat:text")
	l.CallbackRejected(ctx, telemetry.ReasonStateMismatch, "Button expired, use /start", "MAIN_MENU", "MODEL_PICK")
	l.CallbackRejected(ctx, telemetry.ReasonDBError, "try again", "", "")
	l.AnswerCallbackQuery(ctx, "")
	l.UIRender(ctx, "MODEL_PICK", []telemetry.ButtonID{"mp_model_1", "back"})
	l.MessageReceived(ctx, "", 17)
	l.ParamInput(ctx, "prompt", "a cat — in the snow ☃")
	l.TelegramAPIError(ctx, "sendMessage", 429, 3, errors.New("too many requests"))
	l.DispatchFail(ctx, 1500*time.Millisecond, "HANDLER_TIMEOUT", errors.New("deadline"), 0, 7, 2)
	l.DeadLettered(ctx, 0, 5, telemetry.ReasonMaxDeliveries, "boom")
	l.DebugModeChanged(ctx, true, time.Date(2026, 11, 28, 12, 30, 0, 0, time.UTC))
	l.DebugPanelShown(ctx, 42)
	l.DispatchOK(ctx, 9*time.Millisecond, 0, 1795907791143524)
	l.Debug(ctx, telemetry.Event("SOMETHING_NEW"), zap.String("free", "text"), zap.Duration("took", 1500*time.Microsecond),
		zap.Float64("ratio", 0.25), zap.Bool("ok", true), zap.Any("obj", map[string]int{"a": 1}),
		zap.Ints("nums", []int{1, 2}), zap.Uint64("big", 1<<63), zap.String(telemetry.FStreamID, "not-an-id"),
		zap.Int(telemetry.FReasonCode, 3), zap.Time("when", time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)))
}

// TestCodecKeepsEveryField: a chain written in the compact form reads
// back exactly as the JSON lines of its events decode.
func TestCodecKeepsEveryField(t *testing.T) {
	sink := &captureSink{}
	l, err := telemetry.New(telemetry.Options{Format: telemetry.FormatKV, Level: zapcore.DebugLevel, Instance: "node-b",
		Output: io.Discard, Sink: sink})
	require.NoError(t, err)
	l.SetRole(func() string { return telemetry.RoleActive })
	logEverything(l, telemetry.WithUpdate(context.Background(), testUpdate))

	p := newPending(sink.events[0], time.Now())
	for _, ev := range sink.events {
		p.add(ev)
	}
	stored := p.appendBlock(nil)
	names := map[uint32]string{instanceID("node-b"): "node-b"}
	blocks := decodeBlocks(testUpdate.CID, stored, names)
	require.Len(t, blocks, 1)
	require.Len(t, blocks[0].events, len(sink.lines))
	jsonBytes := 0
	for i, line := range sink.lines {
		want, err := telemetry.DecodeEvent(line)
		require.NoError(t, err)
		require.Equal(t, want, blocks[0].events[i], "event %d: %s", i, line)
		jsonBytes += len(line)
	}
	require.NotZero(t, blocks[0].flags&flagFailing)
	t.Logf("%d events: %d bytes of JSON lines, %d bytes stored", len(sink.lines), jsonBytes, len(stored))

	// two blocks, and a block from a later format, in one value
	stored = p.appendBlock(stored)
	later := []byte{3, 0, 1, 2} // a body of format version 3
	stored = append(stored, later...)
	stored = p.appendBlock(stored)
	require.Len(t, decodeBlocks(testUpdate.CID, stored, names), 3)
	// cut short, or with bytes flipped: what decodes is kept, nothing panics
	for n := range len(stored) {
		_ = decodeBlocks(testUpdate.CID, stored[:n], names)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := append([]byte(nil), stored...)
		for range 1 + rng.IntN(4) {
			b[rng.IntN(len(b))] = byte(rng.IntN(256))
		}
		_ = decodeBlocks(testUpdate.CID, b, names)
	}
}

func TestCIDKey(t *testing.T) {
	k, ok := cidKey("0a1b2c3d")
	require.True(t, ok)
	require.Equal(t, "\x0a\x1b\x2c\x3d", k)
	require.Equal(t, "0a1b2c3d", cidText(k))
	for _, bad := range []string{"", "0A1B2C3D", "0a1b2c3", "0a1b2c3dd", "zzzzzzzz"} {
		_, ok := cidKey(bad)
		require.False(t, ok, bad)
	}
}

// TestCodesAreStable: the code tables only grow at their end, since
// chains written by one release are read by the next. To add a name:
// append it to its table, then run the test with -update-codes.
func TestCodesAreStable(t *testing.T) {
	var cur []string
	for i, e := range eventNames {
		cur = append(cur, fmt.Sprintf("event %d %s", i+1, e))
	}
	for i, k := range fieldKeys {
		cur = append(cur, fmt.Sprintf("key %d %s %d", i+1, k.name, k.typ))
	}
	for i, s := range dictionary {
		cur = append(cur, fmt.Sprintf("dict %d %q", i, s))
	}
	const golden = "testdata/codes.golden"
	if os.Getenv("UPDATE_CODES") == "1" {
		require.NoError(t, os.WriteFile(golden, []byte(strings.Join(cur, "\n")+"\n"), 0o644))
	}
	f, err := os.Open(golden)
	require.NoError(t, err)
	defer f.Close()
	var old []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		old = append(old, sc.Text())
	}
	have := map[string]bool{}
	for _, c := range cur {
		have[c] = true
	}
	for _, o := range old {
		require.True(t, have[o], "code %q changed or was removed: codes only grow (run with UPDATE_CODES=1 after appending)", o)
	}
	require.Equal(t, len(eventNames), len(eventCode), "an event twice in eventNames")
	require.Equal(t, len(fieldKeys), len(keyCode), "a key twice in fieldKeys")
	require.Equal(t, len(dictionary), len(dictIndex), "a value twice in dictionary")
	require.Less(t, len(fieldKeys), escapeCode)
	require.Less(t, len(dictionary), 64, "dictionary indexes past 63 take two bytes")
}

// FuzzDecodeBlocks: whatever a segment holds (another release's blocks, a
// torn write, a foreign value), decoding keeps what decodes and never
// panics.
func FuzzDecodeBlocks(f *testing.F) {
	sink := &captureSink{}
	l, err := telemetry.New(telemetry.Options{Level: zapcore.DebugLevel, Instance: "node-b", Output: io.Discard, Sink: sink})
	require.NoError(f, err)
	logEverything(l, telemetry.WithUpdate(context.Background(), testUpdate))
	p := newPending(sink.events[0], time.Now())
	for _, ev := range sink.events {
		p.add(ev)
	}
	f.Add(p.appendBlock(nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, blk := range decodeBlocks(testUpdate.CID, b, nil) {
			for _, e := range blk.events {
				_ = e.Name()
			}
		}
	})
}
