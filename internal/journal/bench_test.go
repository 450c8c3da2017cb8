package journal

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// BenchmarkRecordUpdate: the four events of every update (QUEUE_ENQUEUE,
// QUEUE_PICK, DISPATCH_START, DISPATCH_OK) logged to io.Discard with the
// journal as Sink, its Run writing to a real Redis meanwhile (what it costs
// the logging goroutine, the hand-off included; B/op and allocs/op count
// Run's too). Without the journal, the same Logger has no Sink.
func BenchmarkRecordUpdate(b *testing.B) {
	for _, withJournal := range []bool{false, true} {
		name := "nosink"
		o := telemetry.Options{Format: telemetry.FormatJSON, Level: zapcore.InfoLevel, Instance: "node-a",
			Output: io.Discard, Secrets: []string{"123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_x"}}
		var j *Journal
		if withJournal {
			name = "journal"
			c, ns := redistest.Client(b)
			j = New(Options{Client: c, Keys: keys.New(ns), Metrics: metrics.NewTest()})
			o.Sink = j
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = j.Run(ctx) }()
			b.Cleanup(func() { cancel(); <-done })
		}
		l, err := telemetry.New(o)
		require.NoError(b, err)
		l.SetRole(func() string { return telemetry.RoleActive })
		if j != nil {
			j.SetLogger(l)
		}
		ctxs := make([]context.Context, 1<<16) // one cid per update, made before
		for i := range ctxs {
			ctxs[i] = telemetry.WithUpdate(context.Background(), update(int64(i)))
		}
		at := time.Now()
		n := int64(0)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n++
				ctx := ctxs[n%int64(len(ctxs))]
				l.QueueEnqueueFrom(ctx, at, "", "callback_query", 0, 12, "1732834000000-0")
				l.QueuePick(ctx, "w2", 0, 1, 3*time.Millisecond)
				l.DispatchStartAt(ctx, at, 0, 1796221688827940)
				l.DispatchOK(ctx, 9*time.Millisecond, 0, 1796221688827940)
			}
			if j != nil {
				b.ReportMetric(float64(j.dropped.Load())/float64(max(n, 1)), "dropped/op")
			}
		})
	}
}
