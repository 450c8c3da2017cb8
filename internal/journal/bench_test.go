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
// journal as Sink, and a goroutine taking the recorded events the way the
// gatherer does (so the hand-off costs what it costs in Run). Without the
// journal, the same Logger has no Sink.
func BenchmarkRecordUpdate(b *testing.B) {
	for _, withJournal := range []bool{false, true} {
		name := "nosink"
		o := telemetry.Options{Format: telemetry.FormatJSON, Level: zapcore.InfoLevel, Instance: "node-a",
			Output: io.Discard}
		var j *Journal
		if withJournal {
			name = "journal"
			j = New(Options{Client: redistest.DeadClient(b), Keys: keys.New("t"), Metrics: metrics.NewTest()})
			o.Sink = j
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				tick := time.NewTicker(flushEvery)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-j.ch:
					case <-tick.C:
					}
				}
			}()
			b.Cleanup(func() { close(stop); <-done })
		}
		l, err := telemetry.New(o)
		require.NoError(b, err)
		l.SetRole(func() string { return telemetry.RoleActive })
		ctx := telemetry.WithUpdate(context.Background(), update(1))
		at := time.Now()
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.QueueEnqueueFrom(ctx, at, "", "callback_query", 0, 12, "1732834000000-0")
				l.QueuePick(ctx, "w2", 0, 1, 3*time.Millisecond)
				l.DispatchStartAt(ctx, at, 0, 1796221688827940)
				l.DispatchOK(ctx, 9*time.Millisecond, 0, 1796221688827940)
			}
		})
		if j != nil {
			require.Zero(b, j.dropped.Load(), "the benchmark's reader fell behind: dropped events cost less than sent ones")
		}
	}
}
