// Package journal keeps the events of each update (its chain, by cid) in
// Redis within a memory budget, so that `dispatcher trace CID` and the
// bot's /debug panel can show the whole chain across instances. It is the
// telemetry.Sink of an instance's Logger and implements the readers of
// package telemetry (JournalReader, JournalNotes, DebugUserSetter).
//
// Layout. The journal is a set of segments, each a Redis hash whose
// fields are the 4 bytes of a cid and whose values are the chain's events
// in a compact binary form (codec.go: no field names, one-byte codes for
// event names, keys and common values, times as offsets). Segments belong
// to a tier:
//
//   - ok: chains that went well;
//   - fail: chains with a rejection, failure, dead letter, silence warning
//     or redelivery (any event at warn or above but PASSIVE_REJECT);
//   - debug: every chain of a user in debug mode (DebugUser), kept in full;
//   - users: each user's last MaxCIDs cids with when they were seen.
//
// Each tier writes to one current segment and starts a new one when it
// holds about a 64th of the budget; the meta hash (keys.JournalMeta)
// lists the segments. Only single-key commands and single-key scripts are
// used, so the journal runs on a single Redis, Sentinel or Cluster.
//
// The budget (Options.MaxMemory, JOURNAL_MAX_MEMORY). Every instance runs
// a janitor that measures the segments (MEMORY USAGE) a few times a second
// and, while their sum is over the budget, deletes whole segments, oldest
// first, in this order: the users tier while it holds more than a tenth
// of the budget, the fail tier while it holds more than half, then the ok
// tier, then fail, users and last debug. So chains that went well go
// first, failing chains are kept longer, and a debug user's chains go only
// when nothing else is left. Every deletion is recorded (keys.JournalEvicted),
// so that readers can say a chain was "evicted after 3h by the journal
// budget". Segments also expire Options.TTL after their last write, and a
// tier starts a new segment at least every TTL/16, so a chain is kept at
// most about 1/16 longer than the TTL.
//
// Writing. Record encodes the event at once (on the logging goroutine) and
// queues it without blocking; the goroutine of Run gathers each cid's
// events into one block and writes blocks in batches, one pipeline a
// batch, when the chain's part on this instance ended (DISPATCH_OK,
// DISPATCH_FAIL...) or after a second. A failing chain's earlier events,
// written to the ok tier by any instance, are moved to the fail tier a
// few seconds later.
//
// Guarantees:
//   - Record never blocks and never fails; the journal is off the update's
//     critical path: a slow or unavailable journal Redis delays nothing but
//     the journal's own goroutine, which gives up on a write after 2 s and
//     then backs off;
//   - what is not kept is counted (Failures,
//     dispatcher_journal_dropped_total) and reported as
//     JOURNAL_WRITE_FAILED at most once a minute;
//   - the journal holds at most about the budget: after each janitor pass
//     the measured sum is at or under it; between passes it grows by what
//     is written meanwhile (at most about a 64th of the budget per
//     instance, when an instance writes that much it runs a pass at once).
//
// Not guaranteed:
//   - nothing is retried: events recorded while the journal Redis is down
//     are lost (and counted);
//   - MEMORY USAGE samples each segment, so the measured sum is an
//     estimate (within a few percent for segments of thousands of chains);
//   - events a chain's other instances write after its failure was seen
//     stay in the ok tier (the failing instance's own later events follow
//     the failure);
//   - a chain that is not in debug mode keeps at most MaxEvents events per
//     instance; later ones are dropped and the chain says so;
//   - every instance must be given the same budget; the meta hash shows the
//     one last enforced;
//   - in a Redis of its own that evicts keys, any journal key may vanish:
//     the journal goes on (a segment the meta hash no longer lists is then
//     left to Redis' eviction and to the TTL).
package journal

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Limits and defaults.
const (
	// DefaultMaxMemory is the default budget (JOURNAL_MAX_MEMORY).
	DefaultMaxMemory int64 = 256 << 20
	// MinMaxMemory is the smallest budget accepted.
	MinMaxMemory int64 = 1 << 20
	// DefaultTTL is how long a segment is kept after its last write
	// (JOURNAL_TTL) when the budget does not evict it first.
	DefaultTTL = 24 * time.Hour
	// MaxEvents is the most events a chain keeps per instance unless its
	// user is in debug mode.
	MaxEvents = 100
	// MaxCIDs is the most cids kept per user (in each users segment).
	MaxCIDs = 20
	// Buffer is how many recorded events wait for the writer before new
	// ones are dropped (and counted).
	Buffer = 8192
	// DefaultDebugSpan is how long DebugUser keeps a user in debug mode
	// when asked for no duration.
	DefaultDebugSpan = 30 * time.Minute
)

// Tiers of segments, in the order the readers look at them.
const (
	TierOK    = "ok"
	TierFail  = "fail"
	TierDebug = "debug"
	TierUsers = "users"
)

var chainTiers = []string{TierOK, TierFail, TierDebug}

var allTiers = []string{TierOK, TierFail, TierDebug, TierUsers}

// Timings of the writer and the janitor.
const (
	hold          = time.Second            // longest a chain's events wait for more before they are written
	flushEvery    = 10 * time.Millisecond  // how often recorded events are taken and held blocks looked at (smaller bursts: the webhook's p99)
	wakeAt        = Buffer / 8             // recorded events that take them before the tick
	batchBlocks   = 512                    // blocks written at once when more are ready
	maxPending    = 16384                  // held blocks; beyond, the oldest are written early
	writeTimeout  = 2 * time.Second        // one pipelined write
	backoffMin    = 250 * time.Millisecond // first pause after a failed write
	backoffMax    = 5 * time.Second
	reportEvery   = time.Minute // at most one JOURNAL_WRITE_FAILED line per period
	refreshEvery  = time.Second // how often the writer rereads the meta hash
	promoteDelay  = time.Second // a failing chain's ok part is moved this long after, and again after promoteAgain
	promoteAgain  = 5 * time.Second
	failingMemory = 10 * time.Minute       // how long a failing cid is remembered
	janitorEvery  = 250 * time.Millisecond // janitor pass
	measureStale  = 30 * time.Second       // a closed segment is measured again after this
	segmentParts  = 64                     // a segment holds about budget/segmentParts
	segmentAge    = 16                     // and is written to for at most TTL/segmentAge
	minSegment    = 16 << 10
)

// Options configure a Journal.
type Options struct {
	// Client is the journal's Redis: its own (JOURNAL_REDIS_URL) or the
	// queue's. Give it its own connection pool so that the journal never
	// takes the queue's connections.
	Client redis.UniversalClient
	Keys   keys.Space
	// MaxMemory is the budget in bytes; 0 means DefaultMaxMemory.
	MaxMemory int64
	// TTL is how long a segment lives after its last write; 0 means
	// DefaultTTL.
	TTL time.Duration
	// Metrics may be nil (a journal used only to read).
	Metrics *metrics.Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NoJanitor: Run writes but does not enforce the budget (the operator
	// commands, whose JOURNAL_MAX_MEMORY may not be the instances').
	NoJanitor bool
}

// Journal is the event journal of one process. Reading (Chain, LastCIDs,
// NotKept, Stats, DebugUser) needs no Run.
type Journal struct {
	c   redis.UniversalClient
	ks  keys.Space
	opt Options
	log atomic.Pointer[telemetry.Logger]

	ch       chan *event
	wake     chan struct{} // wakeAt events wait in ch
	kick     chan struct{} // Flush: write everything now
	janitorK chan struct{} // run a janitor pass now

	queued   atomic.Int64 // events accepted by Record
	done     atomic.Int64 // events written, lost or capped by the writer
	failures atomic.Int64 // events not kept: dropped or not written
	dropped  atomic.Int64 // of which dropped because the buffer was full

	mu       sync.Mutex
	progress chan struct{} // closed when done advances

	g gatherer // state of the Run goroutine
	w writer   // state of the writer's goroutine
}

var (
	_ telemetry.Sink            = (*Journal)(nil)
	_ telemetry.JournalReader   = (*Journal)(nil)
	_ telemetry.JournalNotes    = (*Journal)(nil)
	_ telemetry.DebugUserSetter = (*Journal)(nil)
)

// New returns a journal; it writes nothing until Run.
func New(o Options) *Journal {
	if o.MaxMemory <= 0 {
		o.MaxMemory = DefaultMaxMemory
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	j := &Journal{c: o.Client, ks: o.Keys, opt: o, ch: make(chan *event, Buffer),
		wake: make(chan struct{}, 1), kick: make(chan struct{}, 1), janitorK: make(chan struct{}, 1), progress: make(chan struct{})}
	j.g.init(j)
	j.w.init(j)
	return j
}

// SetLogger sets the Logger the journal reports its own failures and
// evictions to (build the journal, then the Logger with it as Sink, then
// call SetLogger).
func (j *Journal) SetLogger(l *telemetry.Logger) { j.log.Store(l) }

// MaxMemory returns the budget this journal enforces.
func (j *Journal) MaxMemory() int64 { return j.opt.MaxMemory }

// Record queues one event for writing (telemetry.Sink). It never blocks:
// with the buffer full the event is dropped and counted.
//
// The Run goroutine takes what was recorded every flushEvery, or once
// wakeAt events wait: a Record does not wake it (waking a goroutine for
// each event cost the logging goroutine more than encoding the event; the
// blocks ready to write are collected on the same tick anyway).
func (j *Journal) Record(e telemetry.Entry) {
	if !telemetry.ValidCID(e.Update.CID) {
		return
	}
	ev := encodeEntry(&e)
	select {
	case j.ch <- ev:
		j.queued.Add(1)
		if len(j.ch) >= wakeAt {
			select {
			case j.wake <- struct{}{}:
			default:
			}
		}
	default:
		j.dropped.Add(1)
		j.fail(1)
	}
}

func (j *Journal) fail(n int) {
	if n <= 0 {
		return
	}
	j.failures.Add(int64(n))
	if j.opt.Metrics != nil {
		j.opt.Metrics.JournalFailures.Add(float64(n))
	}
}

// finished counts n events as done by the writer and wakes Flush.
func (j *Journal) finished(n int) {
	if n <= 0 {
		return
	}
	j.done.Add(int64(n))
	j.mu.Lock()
	close(j.progress)
	j.progress = make(chan struct{})
	j.mu.Unlock()
}

// Failures returns how many events were dropped or not written since the
// journal was made.
func (j *Journal) Failures() int64 { return j.failures.Load() }

// Run writes recorded events and runs the janitor until ctx is done, then
// writes what is still held with a fresh context bounded by a few seconds,
// reports pending failures and returns nil. Call it once.
func (j *Journal) Run(ctx context.Context) error {
	jctx, stopJanitor := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if !j.opt.NoJanitor {
		wg.Go(func() { j.runJanitor(jctx) })
	}
	j.g.run(ctx)
	stopJanitor()
	wg.Wait()
	return nil
}

// Flush waits until every event recorded before the call is written (or
// lost), or ctx is done. It needs Run to be running.
func (j *Journal) Flush(ctx context.Context) error {
	target := j.queued.Load()
	select {
	case j.kick <- struct{}{}:
	default:
	}
	for {
		j.mu.Lock()
		ch := j.progress
		j.mu.Unlock()
		if j.done.Load() >= target {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("journal: flush: %w", ctx.Err())
		}
	}
}

func (j *Journal) now() time.Time { return j.opt.Now() }
