package telemetry

import (
	"io"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
)

// DefaultFlushAfter is the longest a line waits in a buffered Logger's
// buffer (Options.FlushAfter) before it is written.
const DefaultFlushAfter = 5 * time.Millisecond

// flushSize is how many buffered bytes are written at once without waiting
// for FlushAfter (a few hundred lines; within a pipe's 64 KiB).
const flushSize = 32 << 10

// lineBuffer gathers whole lines and writes them to out in one write: when
// flushSize bytes wait, after a delay bounded by `after` since the oldest
// waiting line, at Flush and at Sync. Lines are written in the order they
// were logged and never split. Writers wait only for the lock of the
// buffer; the write itself is done outside it (one at a time, under wmu),
// so a slow reader of stdout holds back only the goroutine that writes,
// and the others once flushSize more bytes wait.
type lineBuffer struct {
	out   io.Writer
	after time.Duration

	mu      sync.Mutex
	buf     []byte
	armed   bool  // the timer will flush buf
	logged  int64 // bytes ever appended to buf
	err     error // first write error, reported by Sync
	timer   *time.Timer
	wmu     sync.Mutex // one write at a time, in order
	written int64      // bytes ever handed to out (under wmu)
	spare   []byte     // the buffer being written, reused (under wmu)
}

func newLineBuffer(out io.Writer, after time.Duration) *lineBuffer {
	b := &lineBuffer{out: out, after: after, buf: make([]byte, 0, flushSize+flushSize/4)}
	b.timer = time.AfterFunc(time.Hour, func() { _ = b.flush() })
	b.timer.Stop()
	return b
}

// Write appends one encoded line (zap writes one per call).
func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.buf = append(b.buf, p...)
	b.logged += int64(len(p))
	full := len(b.buf) >= flushSize
	if !full && !b.armed {
		b.armed = true
		b.timer.Reset(b.after)
	}
	b.mu.Unlock()
	if full {
		_ = b.flush()
	}
	return len(p), nil
}

// flush writes every line appended before the call, unless another flush
// already did.
func (b *lineBuffer) flush() error {
	b.mu.Lock()
	target := b.logged
	b.mu.Unlock()
	b.wmu.Lock()
	defer b.wmu.Unlock()
	if b.written >= target {
		return nil
	}
	b.mu.Lock()
	out := b.buf
	b.buf, b.spare = b.spare[:0], nil
	b.armed = false
	b.mu.Unlock()
	_, err := b.out.Write(out)
	b.written += int64(len(out))
	b.spare = out[:0]
	if err != nil {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return err
}

// Sync writes what is buffered, then syncs out when it can be. It returns
// the first write error since the previous Sync.
func (b *lineBuffer) Sync() error {
	werr := b.flush()
	b.mu.Lock()
	err := b.err
	b.err = nil
	b.mu.Unlock()
	if err == nil {
		err = werr
	}
	if s, ok := b.out.(zapcore.WriteSyncer); ok {
		if serr := s.Sync(); err == nil {
			err = serr
		}
	}
	return err
}
