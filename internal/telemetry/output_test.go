package telemetry

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

// countingWriter records what reaches it and how many writes it took.
type countingWriter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
	wrote  chan struct{} // a value after every write
}

func newCountingWriter() *countingWriter { return &countingWriter{wrote: make(chan struct{}, 1024)} }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	w.b.Write(p)
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *countingWriter) snapshot() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String(), w.writes
}

func bufferedLogger(t *testing.T, w *countingWriter, after time.Duration) *Logger {
	t.Helper()
	l, err := New(Options{Format: FormatKV, Level: zapcore.InfoLevel, Instance: "node-a", Output: w, FlushAfter: after})
	require.NoError(t, err)
	return l
}

// TestBufferedLinesWaitAtMostFlushAfter: lines logged together reach the
// output in one write, without anyone calling Flush, within the bound.
func TestBufferedLinesWaitAtMostFlushAfter(t *testing.T) {
	w := newCountingWriter()
	l := bufferedLogger(t, w, 20*time.Millisecond)
	ctx := WithUpdate(context.Background(), testUpdate)
	logged := time.Now()
	l.QueuePick(ctx, "w1", 0, 1, 0)
	l.DispatchStart(ctx, 0, 7)
	l.DispatchOK(ctx, time.Millisecond, 0, 7)
	select {
	case <-w.wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("buffered lines were never written")
	}
	waited := time.Since(logged)
	out, writes := w.snapshot()
	require.Equal(t, 1, writes, "three lines, one write")
	require.Equal(t, 3, strings.Count(out, "\n"))
	require.Less(t, strings.Index(out, "name=QUEUE_PICK"), strings.Index(out, "name=DISPATCH_OK"))
	require.GreaterOrEqual(t, waited, 20*time.Millisecond, "written before the bound: not buffered")
}

// TestFlushWritesEverythingLoggedBefore: Flush returns with the lines out;
// with nothing new, it writes nothing.
func TestFlushWritesEverythingLoggedBefore(t *testing.T) {
	w := newCountingWriter()
	l := bufferedLogger(t, w, time.Hour)
	ctx := WithUpdate(context.Background(), testUpdate)
	l.DispatchOK(ctx, time.Millisecond, 0, 7)
	out, _ := w.snapshot()
	require.Empty(t, out, "buffered")
	l.Flush()
	out, writes := w.snapshot()
	require.Contains(t, out, "name=DISPATCH_OK")
	require.Equal(t, 1, writes)
	l.Flush()
	l.Sync()
	_, writes = w.snapshot()
	require.Equal(t, 1, writes, "nothing new: no write")
	l.QueuePick(ctx, "w1", 0, 1, 0)
	l.Sync()
	out, _ = w.snapshot()
	require.Contains(t, out, "name=QUEUE_PICK", "Sync writes the buffer")
}

// TestBufferedLinesStayWholeAndInOrder: many goroutines log; every line
// arrives whole, each goroutine's in its order, and a full buffer is
// written without waiting for the bound.
func TestBufferedLinesStayWholeAndInOrder(t *testing.T) {
	w := newCountingWriter()
	l := bufferedLogger(t, w, time.Hour)
	const goroutines, each = 4, 2000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ctx := WithUpdate(context.Background(), Update{CID: "0000000" + strconv.Itoa(g), UpdateID: int64(g)})
			for i := range each {
				l.QueuePick(ctx, "w"+strconv.Itoa(g), 0, int64(i), 0)
			}
		})
	}
	wg.Wait()
	_, writes := w.snapshot()
	require.Greater(t, writes, 0, "a full buffer is written at once")
	l.Flush()
	out, _ := w.snapshot()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, goroutines*each)
	next := map[string]int{}
	for _, line := range lines {
		require.True(t, strings.HasPrefix(line, "ts="), line)
		i := strings.Index(line, " worker_id=")
		require.Positive(t, i, line)
		worker := strings.Fields(line[i:])[0]
		d := strings.Index(line, " delivery=")
		n, err := strconv.Atoi(strings.Fields(line[d+len(" delivery="):])[0])
		require.NoError(t, err)
		require.Equal(t, next[worker], n, "lines of %s out of order", worker)
		next[worker]++
	}
}
