package telemetry

import (
	"bytes"
	"fmt"
	"time"

	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

// Formats of LOG_FORMAT.
const (
	FormatJSON = "json"
	FormatKV   = "kv"
)

// tsLayout is RFC 3339 with microseconds, always in UTC. Finer than the
// contract's milliseconds so that a trace orders events of different
// instances on one machine (and of one instance) even within a millisecond.
const tsLayout = "2006-01-02T15:04:05.000000Z07:00"

// encoderConfig has no entry keys: lineCore writes ts, level, name and
// instance as the first fields, so both formats share one order. Values
// read the same in both formats (the kv encoder follows these choices):
// times (ts, until) are RFC 3339 in UTC with microseconds, durations are Go
// durations ("10s", as the configuration writes them; fields that count
// milliseconds are integers named *_ms).
func encoderConfig() zapcore.EncoderConfig {
	return zapcore.EncoderConfig{
		LineEnding:     "\n",
		EncodeTime:     encodeTime,
		EncodeDuration: zapcore.StringDurationEncoder,
	}
}

// encodeTime writes a time without allocating when the encoder can append a
// layout (zap's JSON encoder can).
func encodeTime(t time.Time, enc zapcore.PrimitiveArrayEncoder) {
	if a, ok := enc.(interface{ AppendTimeLayout(time.Time, string) }); ok {
		a.AppendTimeLayout(t.UTC(), tsLayout)
		return
	}
	enc.AppendString(t.UTC().Format(tsLayout))
}

// newEncoder returns the encoder of a LOG_FORMAT.
func newEncoder(format string) (zapcore.Encoder, error) {
	switch format {
	case "", FormatJSON:
		return zapcore.NewJSONEncoder(encoderConfig()), nil
	case FormatKV:
		return newKVEncoder(), nil
	}
	return nil, fmt.Errorf("%w: %q (want json or kv)", ErrFormat, format)
}

// Unicode line and paragraph separators and NEL: JSON allows them raw in a
// string, but some viewers break lines on them, so the JSON lines carry
// them escaped. (The kv encoder escapes every non-printable rune itself.)
var (
	lineSep = []byte("\u2028")
	paraSep = []byte("\u2029")
	nextLn  = []byte("\u0085")
)

// escapeSeparators returns buf, or a new buffer from the pool in which the
// Unicode line breaks are written as \u escapes (buf is then freed). In a
// JSON line they can only occur inside strings, where the escape is valid.
func escapeSeparators(buf *buffer.Buffer) *buffer.Buffer {
	b := buf.Bytes()
	if bytes.IndexByte(b, 0xE2) < 0 && bytes.IndexByte(b, 0xC2) < 0 {
		return buf
	}
	if !bytes.Contains(b, lineSep) && !bytes.Contains(b, paraSep) && !bytes.Contains(b, nextLn) {
		return buf
	}
	b = bytes.ReplaceAll(b, lineSep, []byte(`\u2028`))
	b = bytes.ReplaceAll(b, paraSep, []byte(`\u2029`))
	b = bytes.ReplaceAll(b, nextLn, []byte(`\u0085`))
	out := bufferPool.Get()
	_, _ = out.Write(b)
	buf.Free()
	return out
}
