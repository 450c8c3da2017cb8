package telemetry

import (
	"bytes"
	"net/url"
	"strconv"
	"strings"

	"go.uber.org/zap/buffer"
)

// Redacted replaces a secret wherever it would appear.
const Redacted = "[REDACTED]"

// redactor replaces configured secrets, and the forms they take once
// escaped (URL query or path escaping, Go or JSON quoting), with Redacted.
//
// It runs twice: on every text an event method takes before the text is
// shortened (so a cut can never leave part of a secret), and on each encoded
// line (so a library's message or error is covered too).
type redactor struct {
	s [][]byte // longest first, so a longer form is replaced before its parts
	t []string
}

func newRedactor(secrets []string) *redactor {
	seen := map[string]bool{}
	r := &redactor{}
	for _, v := range secrets {
		if v == "" {
			continue
		}
		q := strconv.Quote(v)
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v), q[1 : len(q)-1]} {
			if !seen[form] {
				seen[form] = true
				r.t = append(r.t, form)
			}
		}
	}
	// longest first
	for i := 1; i < len(r.t); i++ {
		for j := i; j > 0 && len(r.t[j]) > len(r.t[j-1]); j-- {
			r.t[j], r.t[j-1] = r.t[j-1], r.t[j]
		}
	}
	for _, v := range r.t {
		r.s = append(r.s, []byte(v))
	}
	if len(r.t) == 0 {
		return nil
	}
	return r
}

// String returns s without secrets. It allocates only when s holds one.
func (r *redactor) String(s string) string {
	if r == nil {
		return s
	}
	for _, v := range r.t {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	return s
}

// Buffer returns buf, or a new buffer from the pool without secrets (buf is
// then freed).
func (r *redactor) Buffer(buf *buffer.Buffer) *buffer.Buffer {
	if r == nil {
		return buf
	}
	b := buf.Bytes()
	hit := false
	for _, v := range r.s {
		if bytes.Contains(b, v) {
			b = bytes.ReplaceAll(b, v, []byte(Redacted))
			hit = true
		}
	}
	if !hit {
		return buf
	}
	out := bufferPool.Get()
	_, _ = out.Write(b)
	buf.Free()
	return out
}

var bufferPool = buffer.NewPool()
