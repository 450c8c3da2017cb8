// Package logtest collects what a test's telemetry.Logger writes: a buffer
// safe for the logger's concurrent writes, and the JSON lines decoded.
package logtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"sync"
)

// Buffer is an io.Writer for a Logger's Output. The zero value is ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Events returns the JSON lines written so far, decoded, oldest first; with
// names, only the events of those names. Lines that are not JSON objects
// are skipped.
func (b *Buffer) Events(names ...string) []map[string]any {
	b.mu.Lock()
	data := append([]byte(nil), b.buf.Bytes()...)
	b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev map[string]any
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if len(names) == 0 {
			out = append(out, ev)
			continue
		}
		for _, n := range names {
			if ev["name"] == n {
				out = append(out, ev)
				break
			}
		}
	}
	return out
}
