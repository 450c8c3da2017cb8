package telemetry

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedWriter records writes; while gate is set, each write waits on it.
type gatedWriter struct {
	mu     sync.Mutex
	writes []string
	gate   chan struct{}
	fail   error
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	gate := w.gate
	w.mu.Unlock()
	if gate != nil {
		<-gate
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return 0, w.fail
	}
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// open lets the waiting write through, and the later ones at once.
func (w *gatedWriter) open() {
	w.mu.Lock()
	gate := w.gate
	w.gate = nil
	w.mu.Unlock()
	close(gate)
}

func (w *gatedWriter) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.writes, "")
}

func (g *groupWriter) handedIn() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.queued
}

// TestGroupWriterSharesAWriteAndReturnsAfterIt: lines logged while a write
// is under way go out together in the next one, and no Write returns before
// the write holding its line ended.
func TestGroupWriterSharesAWriteAndReturnsAfterIt(t *testing.T) {
	out := &gatedWriter{gate: make(chan struct{})}
	g := newGroupWriter(out)
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := g.Write([]byte("first\n"))
		assert.NoError(t, err)
		assert.Contains(t, out.all(), "first\n")
	})
	require.Eventually(t, func() bool { return g.handedIn() == 1 }, 5*time.Second, time.Millisecond)
	for i := range 10 {
		wg.Go(func() {
			line := fmt.Sprintf("line %d\n", i)
			_, err := g.Write([]byte(line))
			assert.NoError(t, err)
			assert.Contains(t, out.all(), line, "written before Write returned")
		})
	}
	require.Eventually(t, func() bool { return g.handedIn() == 11 }, 5*time.Second, time.Millisecond)
	out.open()
	wg.Wait()
	require.Len(t, out.writes, 2, "the first line alone, then the ten that waited in one write")
	require.Equal(t, "first\n", out.writes[0])
	require.Equal(t, 10, strings.Count(out.writes[1], "\n"))
}

// TestGroupWriterErrors: a failed write's error goes to every line it held;
// the next write is tried again.
func TestGroupWriterErrors(t *testing.T) {
	boom := errors.New("disk full")
	out := &gatedWriter{gate: make(chan struct{}), fail: boom}
	g := newGroupWriter(out)
	errs := make(chan error, 4)
	for i := range 4 {
		go func() { _, err := g.Write([]byte(fmt.Sprintf("l%d\n", i))); errs <- err }()
	}
	require.Eventually(t, func() bool { return g.handedIn() == 4 }, 5*time.Second, time.Millisecond)
	out.open()
	for range 4 {
		require.ErrorIs(t, <-errs, boom)
	}
	out.mu.Lock()
	out.fail = nil
	out.mu.Unlock()
	n, err := g.Write([]byte("ok\n"))
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Equal(t, "ok\n", out.all())
}

// TestGroupWriterKeepsLinesWholeAndInOrder: many writers at once; every
// line arrives once, whole, and each writer's lines in its order.
func TestGroupWriterKeepsLinesWholeAndInOrder(t *testing.T) {
	var buf bytes.Buffer
	g := newGroupWriter(&buf)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				_, err := g.Write([]byte(fmt.Sprintf("w%d %d %s\n", w, i, strings.Repeat("x", i%50))))
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, got, writers*lines)
	for _, l := range got {
		var w, i int
		var pad string
		_, err := fmt.Sscanf(l, "w%d %d %s", &w, &i, &pad)
		if i%50 == 0 {
			_, err = fmt.Sscanf(l, "w%d %d", &w, &i)
		}
		require.NoError(t, err, l)
		require.Equal(t, next[w], i, "writer %d's lines in order", w)
		require.Len(t, pad, i%50, l)
		next[w]++
	}
}
