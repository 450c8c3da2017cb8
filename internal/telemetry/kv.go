package telemetry

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

// kvEncoder writes logfmt: key=value pairs separated by spaces, in the order
// ts, level, name, then the fields. A value is written bare only when it
// consists of characters that cannot end it or start another pair; anything
// else is quoted with Go escaping, so a value cannot forge a field or a line.
type kvEncoder struct {
	*zapcore.MapObjectEncoder
	cfg   zapcore.EncoderConfig
	order []string // keys of context fields, in the order they were added
}

func newKVEncoder(cfg zapcore.EncoderConfig) zapcore.Encoder {
	return &kvEncoder{MapObjectEncoder: zapcore.NewMapObjectEncoder(), cfg: cfg}
}

func (e *kvEncoder) Clone() zapcore.Encoder {
	c := &kvEncoder{MapObjectEncoder: zapcore.NewMapObjectEncoder(), cfg: e.cfg, order: append([]string(nil), e.order...)}
	for k, v := range e.Fields {
		c.Fields[k] = v
	}
	return c
}

func (e *kvEncoder) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	m := zapcore.NewMapObjectEncoder()
	for k, v := range e.Fields {
		m.Fields[k] = v
	}
	var keys []string
	keys = append(keys, e.order...)
	for _, f := range fields {
		f.AddTo(m)
		keys = append(keys, f.Key)
	}
	buf := bufferPool.Get()
	buf.AppendString(FTS + "=" + ent.Time.UTC().Format(tsLayout))
	buf.AppendString(" " + FLevel + "=" + ent.Level.String())
	buf.AppendString(" " + FName + "=")
	appendKVValue(buf, ent.Message)
	seen := make(map[string]bool, len(keys))
	// fields in order of appearance; a key repeated keeps its last value
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		buf.AppendByte(' ')
		appendKVKey(buf, k)
		buf.AppendByte('=')
		appendKVAny(buf, m.Fields[k])
	}
	rest := make([]string, 0)
	for k := range m.Fields {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		buf.AppendByte(' ')
		appendKVKey(buf, k)
		buf.AppendByte('=')
		appendKVAny(buf, m.Fields[k])
	}
	buf.AppendString(e.cfg.LineEnding)
	return buf, nil
}

// With-fields of a cloned encoder keep their order.
func (e *kvEncoder) AddString(k, v string) { e.order = append(e.order, k); e.MapObjectEncoder.AddString(k, v) }

func appendKVKey(buf *buffer.Buffer, k string) {
	if safeBare(k) {
		buf.AppendString(k)
		return
	}
	buf.AppendString(strconv.Quote(k))
}

func appendKVAny(buf *buffer.Buffer, v any) {
	switch x := v.(type) {
	case string:
		appendKVValue(buf, x)
	case int64:
		buf.AppendInt(x)
	case int:
		buf.AppendInt(int64(x))
	case uint64:
		buf.AppendUint(x)
	case bool:
		buf.AppendBool(x)
	case float64:
		buf.AppendFloat(x, 64)
	case time.Duration:
		buf.AppendInt(x.Milliseconds())
	case time.Time:
		buf.AppendString(x.UTC().Format(tsLayout))
	case nil:
		buf.AppendString(`""`)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			appendKVValue(buf, fmt.Sprint(x))
			return
		}
		s := string(b)
		if len(s) > 1 && s[0] == '"' {
			s = s[1 : len(s)-1]
		}
		appendKVValue(buf, s)
	}
}

func appendKVValue(buf *buffer.Buffer, s string) {
	if s != "" && safeBare(s) {
		buf.AppendString(s)
		return
	}
	buf.AppendString(strconv.Quote(s))
}

// safeBare reports whether s can be written without quotes: printable ASCII
// without space, quote, backslash or '='.
func safeBare(s string) bool {
	if s == "" {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || r == '"' || r == '=' || r == '\\'
	}) < 0
}
