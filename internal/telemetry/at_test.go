package telemetry

import (
	"context"
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
