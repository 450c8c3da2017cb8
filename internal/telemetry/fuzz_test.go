package telemetry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// writeWithValue logs events with v in every string a caller or a user can
// influence: user text, states, handler names, errors, the update identity,
// library messages and fields.
func writeWithValue(l *Logger, v string) {
	ctx := WithUpdate(context.Background(), Update{CID: v, UpdateID: 1, Type: "callback_query", UserID: 2, ChatID: 3})
	l.WebhookRejected(ctx, Reason(v), 400, v)
	l.QueueEnqueue(ctx, v, 0, 1, v)
	l.QueuePick(ctx, v, 0, 1, time.Millisecond)
	l.DispatchFail(ctx, time.Millisecond, v, errors.New(v), 0, 1, 1)
	l.DeadLettered(ctx, 0, 5, ReasonMaxDeliveries, v)
	l.DLQReplayed(ctx, time.Time{}, 0, v, v)
	l.UpdateRejected(ctx, ReasonPassiveReject, v)
	l.CallbackReceived(ctx, v)
	l.CallbackRouted(ctx, v, ButtonID(v))
	l.CallbackAccepted(ctx, ScreenID(v))
	l.CallbackRejected(ctx, ReasonStateMismatch, v, ScreenID("S"+v), ScreenID(v+"S")) // never both empty
	l.AnswerCallbackQuery(ctx, v)
	l.MessageReceived(ctx, "/"+v, 0)
	l.MessageRouted(ctx, v)
	l.MessageRejected(ctx, ReasonUnknownAction, v, "", "")
	l.ParamInput(ctx, v, v)
	l.ParamValidationFailed(ctx, v, ReasonValidationFailed, v)
	l.ParamAccepted(ctx, v, v)
	l.UIRender(ctx, ScreenID(v), []ButtonID{ButtonID(v), "back", ButtonID(v)})
	l.LeaseAcquired(0, 1, v)
	l.LeaseRenewFailed(0, 1, v, errors.New(v))
	l.LeaseLost(0, 1, v, v)
	l.SilenceWarning(ctx, v)
	l.TelegramAPIError(ctx, v, 500, 0, errors.New(v))
	l.JobQueued(ctx, v, 0)
	l.Service(warn, EvRedisError, v, zap.String(FError, v))
	// every kind of value once, with v where a caller can put text
	at := time.Date(2026, 11, 28, 23, 1, 57, 302417000, time.UTC)
	l.Service(info, EvServiceStarting, v, zap.Duration("lease_ttl", 10*time.Second), zap.Durations("waits", []time.Duration{time.Millisecond, time.Minute}),
		zap.Time("at", at), zap.Float64("ratio", 0.25), zap.Bool("sandbox", true), zap.Int64("n", -7), zap.Uint8("u", 8),
		zap.Complex128("c", complex(1, -2)), zap.Binary("bin", []byte(v)), zap.ByteString("bytes", []byte(v)),
		zap.Strings("list", []string{v, "b"}), zap.Stringer("stringer", cidStringer(v)))
	l.Lib(DomainTelegram).Errorf("telego: %s", v)
	l.Zap().Warn(v, zap.String("detail", v), zap.Strings("list", []string{v, v}))
}

// lineShape is what a forged value would change: the keys of each line, in
// order, and the number of lines.
func lineShapes(t *testing.T, format, out string) []parsed {
	t.Helper()
	var shapes []parsed
	for _, line := range splitLines(t, out) {
		p, err := parseLine(format, line)
		require.NoError(t, err, "unparsable line: %q", line)
		shapes = append(shapes, p)
	}
	return shapes
}

type cidStringer string

func (c cidStringer) String() string { return string(c) }

// validUTF8 replaces each byte of invalid UTF-8 in s with U+FFFD, as both
// encoders write it.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for an invalid byte
		i += size
	}
	return b.String()
}

// FuzzNoForgery: whatever a value holds (spaces, quotes, '=', newlines,
// control characters, invalid UTF-8, JSON or logfmt fragments), every line
// keeps exactly the keys it has with a harmless value, there are as many
// lines, the value reads back as written (shortened where the contract
// says so; invalid UTF-8 as U+FFFD), and the kv lines are logfmt (quoted
// values are JSON strings, see parseKV). Both formats give every field the
// same value: one representation per field (durations as Go durations,
// times in RFC 3339, arrays as their elements; kv joins them with commas).
func FuzzNoForgery(f *testing.F) {
	for _, s := range []string{
		"", "x", "a b", `a"b`, "a=b", "x\ny", "x\r\ny", "\r", "\t", "\x00", "\x1b[31mred\x1b[0m",
		"\xff\xfe", "\xe2\x80", "\u2028", "\u2029", "\u0085", "\ufeff", "\U0001F600 emoji",
		`" name=FORGED level=error`, `\" cid=deadbeef`, "\ncid=deadbeef name=X", `"},{"name":"X`,
		`{"name":"FORGED"}`, `\u000a`, `\`, `\\`, "ok\\", "=", "==", " ", "  leading", "trailing ",
		"Привет, мир", strings.Repeat("x", 100), strings.Repeat("\n", 70), strings.Repeat("é", 63) + "\n",
		"key=value other=thing", "a\x7fb", "\u200b\u200e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		byFormat := map[string][]parsed{}
		for _, format := range []string{FormatJSON, FormatKV} {
			lb, bufBenign := newTestLogger(t, format)
			writeWithValue(lb, "x")
			benign := lineShapes(t, format, bufBenign.String())

			l, buf := newTestLogger(t, format)
			writeWithValue(l, v)
			got := lineShapes(t, format, buf.String())
			byFormat[format] = got

			require.Len(t, got, len(benign), "%s: number of lines", format)
			for i := range got {
				require.Equal(t, benign[i].keys, got[i].keys, "%s line %d", format, i)
				for _, k := range benign[i].keys {
					bv := benign[i].get(k)
					if !strings.Contains(bv, "x") || k == FTS || k == FLevel || k == FName || k == "bin" {
						continue
					}
					want := strings.ReplaceAll(bv, "x", v) // msg "telego: x", command "/x", list "x,x"
					if got[i].get(k) == validUTF8(want) {
						continue
					}
					// user text and errors are shortened
					require.Equal(t, validUTF8(Shorten(want)), got[i].get(k), "%s line %d key %s", format, i, k)
				}
			}
		}
		js, kv := byFormat[FormatJSON], byFormat[FormatKV]
		for i := range js {
			for _, k := range js[i].keys {
				if k == FTS {
					continue // two loggers, two clocks
				}
				require.Equal(t, js[i].get(k), kv[i].get(k), "line %d key %s: json and kv differ", i, k)
			}
		}
	})
}
