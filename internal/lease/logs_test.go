package lease

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
)

// logBuf collects the JSON lines of a test Logger.
type logBuf struct{ logtest.Buffer }

// events returns the decoded events named name (all when name is "").
func (b *logBuf) events(name string) []map[string]any {
	if name == "" {
		return b.Events()
	}
	return b.Events(name)
}

// newLog returns a debug-level JSON Logger for instance id and its lines.
func newLog(t *testing.T, id string) (*telemetry.Logger, *logBuf) {
	t.Helper()
	b := &logBuf{}
	l, err := telemetry.New(telemetry.Options{Format: "json", Level: zapcore.DebugLevel, Instance: id, Output: b})
	require.NoError(t, err)
	return l, b
}

// waitEvent waits (bounded) for an event named name whose fields contain
// every key/value of match (numbers compared as float64), and returns it.
func waitEvent(t *testing.T, b *logBuf, name telemetry.Event, match map[string]any) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, ev := range b.events(string(name)) {
			if matches(ev, match) {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event matching %v in:\n%s", name, match, tail(b.String(), 4000))
		}
		time.Sleep(2 * time.Millisecond) // poll interval of a bounded wait
	}
}

func matches(ev, match map[string]any) bool {
	for k, want := range match {
		got, ok := ev[k]
		if !ok {
			return false
		}
		switch w := want.(type) {
		case int:
			want = float64(w)
		case int64:
			want = float64(w)
		}
		if s, ok := want.(string); ok && strings.HasPrefix(s, "~") {
			if gs, ok := got.(string); !ok || !strings.Contains(gs, s[1:]) {
				return false
			}
			continue
		}
		if got != want {
			return false
		}
	}
	return true
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
