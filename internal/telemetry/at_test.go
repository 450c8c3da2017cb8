package telemetry

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDispatchStartAtDatesTheLine: the worker dates DISPATCH_START with the
// clock reading taken before its lease check, not with the time of the
// write, in both formats.
func TestDispatchStartAtDatesTheLine(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	for _, format := range []string{FormatJSON, FormatKV} {
		l, buf := newTestLogger(t, format)
		l.DispatchStartAt(context.Background(), at, 0, 9)
		l.DispatchStart(context.Background(), 0, 9)
		lines := splitLines(t, buf.String())
		require.Len(t, lines, 2)
		p, err := parseLine(format, lines[0])
		require.NoError(t, err)
		require.Equal(t, "2026-03-04T05:06:07.890000Z", p.get(FTS))
		require.Equal(t, string(EvDispatchStart), p.get(FName))
		p, err = parseLine(format, lines[1])
		require.NoError(t, err)
		ts, err := time.Parse(time.RFC3339Nano, p.get(FTS))
		require.NoError(t, err)
		require.WithinDuration(t, time.Now(), ts, 5*time.Second, "the plain method keeps the time of the write")
	}
}

// TestLinesSortByTime: every line starts with its ts in one fixed width, so
// `sort` puts the lines of a cid in time order even when they reached
// stdout out of it (QUEUE_ENQUEUE is written once the append's answer is
// back, dated when the append was sent; a worker may have dispatched the
// update meanwhile). The runbook's grep recipes rely on this.
func TestLinesSortByTime(t *testing.T) {
	base := time.Date(2026, 11, 28, 23, 0, 0, 0, time.UTC)
	ctx := WithUpdate(context.Background(), Update{CID: "a1b2c3d4", UpdateID: 1, UserID: 2, ChatID: 2})
	for _, format := range []string{FormatJSON, FormatKV} {
		l, buf := newTestLogger(t, format)
		// written in this order, dated in the reverse one; whole seconds
		// and round microseconds are where a trimmed layout would differ
		l.DispatchStartAt(ctx, base.Add(1500*time.Millisecond), 0, 9)
		l.DispatchStartAt(ctx, base.Add(time.Second), 0, 9)
		l.QueueEnqueueAt(ctx, base.Add(10*time.Microsecond), "message", 0, 1, "1-0")
		l.QueueEnqueueAt(ctx, base, "message", 0, 1, "1-0")
		lines := splitLines(t, buf.String())
		sorted := slices.Clone(lines)
		slices.Sort(sorted)
		var got []string
		for _, line := range sorted {
			p, err := parseLine(format, line)
			require.NoError(t, err)
			require.Len(t, p.get(FTS), len("2026-11-28T23:00:00.000000Z"), "fixed width: %s", line)
			got = append(got, p.get(FTS))
		}
		require.Equal(t, []string{"2026-11-28T23:00:00.000000Z", "2026-11-28T23:00:00.000010Z",
			"2026-11-28T23:00:01.000000Z", "2026-11-28T23:00:01.500000Z"}, got, format)
	}
}
