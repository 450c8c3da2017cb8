// Package updatetest gives tests the repository's update bodies and the
// contract's judge of what is an update, independent of package update.
package updatetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// Sets of bodies.
const (
	// Fixtures are copies of shared/fixtures/updates: realistic bodies
	// (in internal/queue/testdata, where the benchmarks read them too).
	Fixtures = "updates"
	// Kinds holds a body of every kind, and of kinds package update does
	// not know.
	Kinds = "kinds"
	// TelegoRefuses holds bodies telego cannot fully decode: a value it
	// does not know in each field it decodes by a discriminator, fields it
	// cannot decode at all, fields whose shape changed.
	TelegoRefuses = "telego-refuses"
)

// Body is one update body of a set.
type Body struct {
	Set, Name string // Name without ".json"
	JSON      []byte
}

// Dir returns the directory of a set.
func Dir(set string) string {
	_, file, _, _ := runtime.Caller(0)
	pkg := "update"
	if set == Fixtures {
		pkg = "queue"
	}
	return filepath.Join(filepath.Dir(file), "..", "..", pkg, "testdata", set)
}

// Bodies returns the bodies of the sets, in name order.
func Bodies(tb testing.TB, sets ...string) []Body {
	tb.Helper()
	var out []Body
	for _, set := range sets {
		files, err := filepath.Glob(filepath.Join(Dir(set), "*.json"))
		if err != nil || len(files) == 0 {
			tb.Fatalf("updatetest: no bodies in %s: %v", Dir(set), err)
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, Body{Set: set, Name: strings.TrimSuffix(filepath.Base(f), ".json"), JSON: b})
		}
	}
	return out
}

// IsUpdate is the contract's judge of a webhook body (CONTRACT §3), from
// encoding/json: a JSON object whose update_id member (the last one) is a
// number that decodes into an int64 ≥ 0. It returns that update_id.
func IsUpdate(body []byte) (int64, bool) {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil || members == nil {
		return 0, false
	}
	raw, ok := members["update_id"]
	var num json.Number
	if !ok || json.Unmarshal(raw, &num) != nil || num == "" {
		return 0, false
	}
	var id int64
	if json.Unmarshal(raw, &id) != nil || id < 0 {
		return 0, false
	}
	return id, true
}
