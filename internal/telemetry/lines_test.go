package telemetry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
)

// kvPair is one parsed key=value of a kv line.
type kvPair struct{ k, v string }

// parseKV parses one kv line strictly, as a logfmt decoder reads it: pairs
// separated by exactly one space; a value is bare (no space, '"', '=', '\',
// control or non-ASCII) or a quoted JSON string literal (go-logfmt unquotes
// with JSON's rules). It fails on anything else, including a quoted value
// that only Go's strconv.Unquote would read (\x escapes).
func parseKV(line string) ([]kvPair, error) {
	var out []kvPair
	i := 0
	for i < len(line) {
		if len(out) > 0 {
			if line[i] != ' ' {
				return nil, fmt.Errorf("pos %d: want space, got %q", i, line[i])
			}
			i++
		}
		eq := strings.IndexByte(line[i:], '=')
		if eq <= 0 {
			return nil, fmt.Errorf("pos %d: no key", i)
		}
		k := line[i : i+eq]
		for j := 0; j < len(k); j++ {
			if !keyByte(k[j]) {
				return nil, fmt.Errorf("key %q: bad byte", k)
			}
		}
		i += eq + 1
		if i < len(line) && line[i] == '"' {
			end := i + 1
			for ; end < len(line); end++ {
				if line[end] == '\\' {
					end++
					continue
				}
				if line[end] == '"' {
					break
				}
			}
			if end >= len(line) {
				return nil, fmt.Errorf("key %q: unterminated quote", k)
			}
			var v string
			if err := json.Unmarshal([]byte(line[i:end+1]), &v); err != nil {
				return nil, fmt.Errorf("key %q: not a JSON string: %w", k, err)
			}
			out = append(out, kvPair{k, v})
			i = end + 1
			continue
		}
		end := strings.IndexByte(line[i:], ' ')
		if end < 0 {
			end = len(line) - i
		}
		v := line[i : i+end]
		if !bareSafe(v) {
			return nil, fmt.Errorf("key %q: unsafe bare value %q", k, v)
		}
		out = append(out, kvPair{k, v})
		i += end
	}
	return out, nil
}

// jsonKeys decodes one JSON object line and returns its keys in order,
// failing on a repeated key, and its values.
func jsonKeys(line string) ([]string, map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("not an object: %v", err)
	}
	var keys []string
	vals := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k := tok.(string)
		if _, dup := vals[k]; dup {
			return nil, nil, fmt.Errorf("repeated key %q", k)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		vals[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("data after the object")
	}
	return keys, vals, nil
}

// parsed is one line in either format: keys in order and string values.
type parsed struct {
	keys []string
	vals map[string]string
}

func (p parsed) get(k string) string { return p.vals[k] }

// parseLine parses a line of format, without its newline.
func parseLine(format, line string) (parsed, error) {
	p := parsed{vals: map[string]string{}}
	if format == FormatKV {
		pairs, err := parseKV(line)
		if err != nil {
			return p, err
		}
		for _, kv := range pairs {
			if _, dup := p.vals[kv.k]; dup {
				return p, fmt.Errorf("repeated key %q", kv.k)
			}
			p.keys = append(p.keys, kv.k)
			p.vals[kv.k] = kv.v
		}
		return p, nil
	}
	keys, vals, err := jsonKeys(line)
	if err != nil {
		return p, err
	}
	p.keys = keys
	for k, v := range vals {
		switch x := v.(type) {
		case string:
			p.vals[k] = x
		case []any:
			s := make([]string, len(x))
			for i, e := range x {
				s[i] = fmt.Sprint(e)
			}
			p.vals[k] = strings.Join(s, ",")
		default:
			p.vals[k] = fmt.Sprint(x)
		}
	}
	return p, nil
}

// splitLines checks that out is whole lines ending in '\n' with no '\r'
// and returns them.
func splitLines(t testing.TB, out string) []string {
	t.Helper()
	if out == "" {
		return nil
	}
	require.True(t, strings.HasSuffix(out, "\n"), "output does not end with a newline: %q", out)
	require.NotContains(t, out, "\r")
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// newTestLogger returns a Logger of format writing into the returned buffer.
func newTestLogger(t testing.TB, format string, opts ...func(*Options)) (*Logger, *logtest.Buffer) {
	t.Helper()
	buf := &logtest.Buffer{}
	o := Options{Format: format, Level: zapcore.InfoLevel, Instance: "node-a", Output: buf}
	for _, f := range opts {
		f(&o)
	}
	l, err := New(o)
	require.NoError(t, err)
	return l, buf
}
