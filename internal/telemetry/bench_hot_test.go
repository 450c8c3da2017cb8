package telemetry

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

// The four events every update produces, called as ingest and the worker
// call them. Update runs the four in a row: the cost per update.
var hotEvents = []struct {
	name string
	call func(l *Logger, ingest, worker context.Context, at time.Time)
}{
	{"QueueEnqueue", func(l *Logger, ctx, _ context.Context, at time.Time) {
		l.QueueEnqueueFrom(ctx, at, "", "callback_query", 0, 12, "1732834000000-0")
	}},
	{"QueuePick", func(l *Logger, _, ctx context.Context, _ time.Time) {
		l.QueuePick(ctx, "w2", 0, 1, 3*time.Millisecond)
	}},
	{"DispatchStart", func(l *Logger, _, ctx context.Context, at time.Time) {
		l.DispatchStartAt(ctx, at, 0, 1796221688827940)
	}},
	{"DispatchOK", func(l *Logger, _, ctx context.Context, _ time.Time) {
		l.DispatchOK(ctx, 9*time.Millisecond, 0, 1796221688827940)
	}},
}

type (
	benchKey1 struct{}
	benchKey2 struct{}
	benchKey3 struct{}
)

// hotContexts are contexts shaped like the callers': ingest's is a request
// context (two values of net/http) with the update on top; the worker's
// has the update under three more values (term, delivery, fence) on top of
// the run's cancellable context.
func hotContexts(tb testing.TB) (ingest, worker context.Context) {
	base, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	ingest = context.WithValue(context.WithValue(base, benchKey1{}, "srv"), benchKey2{}, "addr")
	ingest = WithUpdate(ingest, testUpdate)
	worker = WithUpdate(base, testUpdate)
	worker = context.WithValue(worker, benchKey1{}, base)
	worker = context.WithValue(worker, benchKey2{}, int64(1))
	worker = context.WithValue(worker, benchKey3{}, [2]int64{0, 1796221688827940})
	return ingest, worker
}

// pipeOutput is the write end of a pipe whose other end is read and
// discarded: a write costs what a write to stdout read by another process
// costs (a syscall), not what io.Discard costs.
func pipeOutput(tb testing.TB) io.Writer {
	r, w, err := os.Pipe()
	require.NoError(tb, err)
	done := make(chan struct{})
	go func() { defer close(done); _, _ = io.Copy(io.Discard, r) }()
	tb.Cleanup(func() { _ = w.Close(); <-done; _ = r.Close() })
	return w
}

// BenchmarkHotEvents: the four events of every update, at an enabled level,
// with secrets configured and a Sink that takes the Entry, written to
// io.Discard and to a pipe.
func BenchmarkHotEvents(b *testing.B) {
	ingest, worker := hotContexts(b)
	at := time.Now()
	for _, format := range []string{FormatJSON, FormatKV} {
		for _, out := range []string{"discard", "pipe"} {
			var w io.Writer = io.Discard
			if out == "pipe" {
				w = pipeOutput(b)
			}
			l, err := New(Options{Format: format, Level: zapcore.InfoLevel, Instance: "node-a", Output: w,
				Secrets: []string{testToken, testSecret}, Sink: discardSink{}})
			require.NoError(b, err)
			l.SetRole(func() string { return RoleActive })
			for _, ev := range hotEvents {
				b.Run(format+"/"+out+"/"+ev.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						ev.call(l, ingest, worker, at)
					}
				})
			}
			b.Run(format+"/"+out+"/Update", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					for _, ev := range hotEvents {
						ev.call(l, ingest, worker, at)
					}
				}
			})
			l.Sync()
		}
	}
}
