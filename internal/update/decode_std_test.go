package update

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mymmrac/telego"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/updatetest"
)

// decodeStd is Decode with encoding/json itself as the decoder, telego's
// included: the reference unmarshal must agree with. It swaps package
// state, so the tests that call it do not run in parallel.
func decodeStd(raw []byte, info Info) (*Update, error) {
	defer func(f func([]byte, any) error) {
		unmarshal = f
		telego.SetJSONUnmarshal(f)
	}(unmarshal)
	unmarshal = json.Unmarshal
	telego.SetJSONUnmarshal(json.Unmarshal)
	return Decode(raw, info)
}

// sameAsStd fails t when Decode and decodeStd disagree on body: whether it
// decodes, what telego decoded, the paths left out. The parts' Err may
// differ (the Go type and field path the decoders name).
func sameAsStd(t testing.TB, body []byte, info Info) {
	t.Helper()
	want, werr := decodeStd(body, info)
	got, err := Decode(body, info)
	if (werr == nil) != (err == nil) {
		t.Fatalf("%.120q: error %v, with encoding/json %v", body, err, werr)
	}
	if err != nil {
		return
	}
	if !reflect.DeepEqual(want.Telego, got.Telego) {
		w, _ := json.Marshal(want.Telego)
		g, _ := json.Marshal(got.Telego)
		t.Fatalf("%.120q: decoded\n%s\nwith encoding/json\n%s", body, g, w)
	}
	if w, g := partPaths(want.Incomplete), partPaths(got.Incomplete); !reflect.DeepEqual(w, g) {
		t.Fatalf("%.120q: left out %q, with encoding/json %q", body, g, w)
	}
}

func partPaths(err error) []string {
	var ie *IncompleteError
	if !errors.As(err, &ie) {
		return nil
	}
	paths := make([]string, len(ie.Parts))
	for i, p := range ie.Parts {
		paths[i] = p.Path
	}
	return paths
}

// TestDecodeAsEncodingJSON: every body of the sets, and each with every
// value in turn replaced (by one of another type, a number telego's field
// cannot hold, a discriminator telego does not know...: each value by the
// next of repl, to bound the time) or its key in upper case, decodes as
// with encoding/json.
func TestDecodeAsEncodingJSON(t *testing.T) {
	repl := []any{"x", "\xff", json.Number("1.5"), json.Number("9223372036854775808"), false, nil,
		[]any{json.Number("1")}, map[string]any{"type": "zzz"}}
	n := 0
	for _, b := range updatetest.Bodies(t, updatetest.Fixtures, updatetest.Kinds, updatetest.TelegoRefuses) {
		var root map[string]any
		d := json.NewDecoder(bytes.NewReader(b.JSON))
		d.UseNumber()
		if err := d.Decode(&root); err != nil {
			t.Fatal(b.Name, err)
		}
		info := Info{UpdateID: 7}
		sameAsStd(t, b.JSON, info)
		variants(root, repl, func() {
			body, err := json.Marshal(root)
			if err != nil {
				t.Fatal(err)
			}
			n++
			sameAsStd(t, body, info)
		})
	}
	t.Logf("%d variants", n)
}

// variants calls emit with each value under v replaced in turn, by the
// next of repl (round robin, keys in order), and with each key in upper
// case; v is restored after.
func variants(v any, repl []any, emit func()) {
	next := 0
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				c := x[k]
				x[k] = repl[next%len(repl)]
				next++
				emit()
				delete(x, k)
				x[strings.ToUpper(k)] = c
				emit()
				delete(x, strings.ToUpper(k))
				x[k] = c
				walk(c)
			}
		case []any:
			for i, c := range x {
				x[i] = repl[next%len(repl)]
				next++
				emit()
				x[i] = c
				walk(c)
			}
		}
	}
	walk(v)
}

// FuzzDecode: Decode refuses exactly what is not a JSON object (by
// encoding/json's rules), with ErrNotUpdate, and decodes the rest as with
// encoding/json.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `null`, ` {"update_id":1} `, `{"update_id":1} x`, `{"a":[1,]}`,
		`{"message":{"text":"` + "\xff" + `\ud800"}}`, `{"MESSAGE":{"MESSAGE_ID":1}}`, `{"message":{"message_id":1e2}}`,
		`{"message":{"chat":{"id":9223372036854775808}}}`, `{"a":` + deep(70) + `}`, `{"a":"` + strings.Repeat("{", 70) + `"}`} {
		f.Add([]byte(s))
	}
	for _, b := range updatetest.Bodies(f, updatetest.Fixtures, updatetest.Kinds, updatetest.TelegoRefuses) {
		f.Add(b.JSON)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		info := Info{UpdateID: 7}
		u, err := Decode(body, info)
		object := json.Valid(body) && bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{"))
		if object != (err == nil) {
			t.Fatalf("%.120q: error %v, a JSON object: %v", body, err, object)
		}
		if err != nil {
			if !errors.Is(err, ErrNotUpdate) {
				t.Fatalf("%.120q: %v", body, err)
			}
			return
		}
		if u.Telego == nil || u.Telego.UpdateID != 7 {
			t.Fatalf("%.120q: no Telego, or not its update_id", body)
		}
		sameAsStd(t, body, info)
	})
}
