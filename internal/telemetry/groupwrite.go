package telemetry

import (
	"io"
	"sync"
)

// groupWriter is the Logger's output: it writes every line before the call
// that logged it returns, as one write to the output per line would, and
// lets lines logged concurrently share one write (group commit). A caller
// whose line arrives while a write is under way waits for it to end, then
// the first waiter writes every line that arrived meanwhile in one go; the
// others return once that write is done. So a line is on the output (in
// the kernel's hands: a kill -9 after the call returned does not lose it)
// before anything its caller does next, and a lone line is written at once,
// with no timer and no added wait. Lines are written whole and in the
// order their Write calls took the lock.
type groupWriter struct {
	out io.Writer

	mu      sync.Mutex
	done    sync.Cond // broadcast when a write ends
	buf     []byte    // lines waiting for the next write
	spare   []byte    // the previous write's buffer, for reuse
	queued  uint64    // lines ever handed in
	written uint64    // lines whose write ended (well or not)
	writing bool      // a write is under way (its caller holds no lock)
	// the last failed write's lines (failFrom, failTo] and its error
	failFrom, failTo uint64
	failErr          error
}

// maxSpare bounds the buffer kept for reuse between writes.
const maxSpare = 256 << 10

func newGroupWriter(out io.Writer) *groupWriter {
	g := &groupWriter{out: out}
	g.done.L = &g.mu
	return g
}

// Write hands p (one line) in and returns when a write holding it ended,
// with that write's error.
func (g *groupWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	g.buf = append(g.buf, p...)
	g.queued++
	mine := g.queued
	for g.writing && g.written < mine {
		g.done.Wait()
	}
	if g.written >= mine { // another caller's write took it
		err := g.errOf(mine)
		g.mu.Unlock()
		if err != nil {
			return 0, err
		}
		return len(p), nil
	}
	b, upto := g.buf, g.queued
	g.buf, g.spare, g.writing = g.spare[:0], nil, true
	from := g.written
	g.mu.Unlock()

	_, err := g.out.Write(b)

	g.mu.Lock()
	g.written, g.writing = upto, false
	if err != nil {
		g.failFrom, g.failTo, g.failErr = from, upto, err
	}
	if cap(b) <= maxSpare {
		g.spare = b[:0]
	}
	g.done.Broadcast()
	g.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// errOf is the error of the write that held line n, if it was the last
// failed one (an older failure is forgotten: zap reports write errors on
// its error output, and the next line's write fails again anyway).
func (g *groupWriter) errOf(n uint64) error {
	if n > g.failFrom && n <= g.failTo {
		return g.failErr
	}
	return nil
}

// Sync syncs the output when it can (a file), after the writes under way.
func (g *groupWriter) Sync() error {
	g.mu.Lock()
	for g.writing {
		g.done.Wait()
	}
	g.mu.Unlock()
	if s, ok := g.out.(interface{ Sync() error }); ok {
		return s.Sync()
	}
	return nil
}
