package telemetry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
)

// Journal limits and timings.
const (
	// JournalMaxEvents is the most events kept per cid (the newest).
	JournalMaxEvents = 100
	// JournalMaxCIDs is the most cids kept per user (the newest).
	JournalMaxCIDs = 20
	// DefaultJournalTTL is how long a cid's events and a user's cid list
	// are kept after their last write (JOURNAL_TTL).
	DefaultJournalTTL = 24 * time.Hour
	// JournalBuffer is how many events wait for the writer before new ones
	// are dropped (and counted).
	JournalBuffer = 4096

	journalBatch        = 256              // events per pipelined write
	journalWriteTimeout = 2 * time.Second  // one pipelined write
	journalReportEvery  = time.Minute      // at most one JOURNAL_WRITE_FAILED line per period
	journalReportTick   = 10 * time.Second // how often pending failures are looked at
)

// Journal keeps each update's events in Redis, per cid, so that `dispatcher
// trace CID` and the /debug panel can show the whole chain across instances.
//
// Writing: Journal is the Sink of a Logger. Record copies the line into a
// bounded buffer and returns; the goroutine of Run drains the buffer and
// writes batches with one pipeline: RPUSH to keys.Space.Journal(cid), LTRIM
// to the newest JournalMaxEvents, EXPIRE ttl; and per user the cid moved to
// the front of keys.Space.UserCIDs(user), trimmed to JournalMaxCIDs, EXPIRE
// ttl. Only single-key commands are used, so it works on Redis Cluster.
//
// A write never blocks or fails a dispatch: when the buffer is full the
// event is dropped; dropped events and failed writes are counted (Failures,
// metrics.JournalFailures) and reported as JOURNAL_WRITE_FAILED at most once
// a minute (and once more when Run returns), never retried.
//
// Reading (Chain, LastCIDs) needs no Run: the CLI builds a Journal only to
// read.
type Journal struct {
	c   redis.UniversalClient
	ks  keys.Space
	ttl time.Duration
	m   *metrics.Metrics
	now func() time.Time
	log atomic.Pointer[Logger]
	ch  chan record

	queued   atomic.Int64 // events accepted by Record
	done     atomic.Int64 // events written or failed by the writer
	failures atomic.Int64 // events dropped or not written (see Failures)
	dropped  atomic.Int64 // of which dropped because the buffer was full

	mu       sync.Mutex
	progress chan struct{} // closed when done advances

	// reporting state, used by the Run goroutine only
	lastReport      time.Time
	reportedFail    int64
	reportedDropped int64
	lastErr         error
}

type record struct {
	cid  string
	user int64
	line []byte
}

var _ Sink = (*Journal)(nil)
var _ JournalReader = (*Journal)(nil)

// NewJournal returns a journal on c in namespace ks; ttl <= 0 means
// DefaultJournalTTL. m may be nil (a journal used only to read). The
// Logger it reports its own failures to is the one it is given to as
// Options.Sink (New binds it): build the journal, then the Logger, then
// start Run.
func NewJournal(c redis.UniversalClient, ks keys.Space, ttl time.Duration, m *metrics.Metrics) *Journal {
	if ttl <= 0 {
		ttl = DefaultJournalTTL
	}
	return &Journal{c: c, ks: ks, ttl: ttl, m: m, now: time.Now,
		ch: make(chan record, JournalBuffer), progress: make(chan struct{})}
}

func (j *Journal) bindLogger(l *Logger) { j.log.Store(l) }

// SetLogger sets the Logger the journal reports its failures to. New does
// it already for the Logger whose Sink the journal is; calling it again
// with that Logger is harmless.
func (j *Journal) SetLogger(l *Logger) { j.log.Store(l) }

// Record queues one event of cid (user 0: no user) for writing. It never
// blocks: with the buffer full the event is dropped and counted.
func (j *Journal) Record(cid string, userID int64, line []byte) {
	r := record{cid: cid, user: userID, line: append([]byte(nil), line...)}
	select {
	case j.ch <- r:
		j.queued.Add(1)
	default:
		j.dropped.Add(1)
		j.fail(1)
	}
}

func (j *Journal) fail(n int) {
	j.failures.Add(int64(n))
	if j.m != nil {
		j.m.JournalFailures.Add(float64(n))
	}
}

// Failures returns how many events were dropped or not written since the
// journal was made (a batch whose events were stored but whose trim, expiry
// or cid-list update failed counts once).
func (j *Journal) Failures() int64 { return j.failures.Load() }

// Run writes queued events until ctx is done, then writes what is still
// queued with a fresh context bounded by a few seconds, reports pending
// failures and returns nil. Call it once.
func (j *Journal) Run(ctx context.Context) error {
	tick := time.NewTicker(journalReportTick)
	defer tick.Stop()
	batch := make([]record, 0, journalBatch)
	// a write in flight when ctx ends is finished, bounded by its timeout
	wctx := context.WithoutCancel(ctx)
	for {
		select {
		case <-ctx.Done():
			j.drain(wctx, batch)
			return nil
		case r := <-j.ch:
			batch = j.fill(append(batch[:0], r))
			j.write(wctx, batch)
			j.report(false)
		case <-tick.C:
			j.report(false)
		}
	}
}

// fill adds what is already queued, up to a batch.
func (j *Journal) fill(batch []record) []record {
	for len(batch) < journalBatch {
		select {
		case r := <-j.ch:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// drain writes what is queued at shutdown (each batch bounded by
// journalWriteTimeout) and reports once more.
func (j *Journal) drain(ctx context.Context, batch []record) {
	for {
		batch = j.fill(batch[:0])
		if len(batch) == 0 {
			break
		}
		j.write(ctx, batch)
	}
	j.report(true)
}

// write stores one batch with one pipeline.
func (j *Journal) write(ctx context.Context, batch []record) {
	wctx, cancel := context.WithTimeout(ctx, journalWriteTimeout)
	defer cancel()

	type userCID struct {
		user int64
		cid  string
	}
	var cids []string // in order of first event
	lines := make(map[string][]any, 4)
	for _, r := range batch {
		if _, ok := lines[r.cid]; !ok {
			cids = append(cids, r.cid)
		}
		lines[r.cid] = append(lines[r.cid], r.line)
	}
	// (user, cid) pairs in order of their last event, so that the cid a
	// user touched last ends up first in the user's list
	var users []userCID
	seenUser := make(map[userCID]bool, 4)
	for i := len(batch) - 1; i >= 0; i-- {
		if uc := (userCID{batch[i].user, batch[i].cid}); uc.user != 0 && !seenUser[uc] {
			seenUser[uc] = true
			users = append(users, uc)
		}
	}
	slices.Reverse(users)

	pipe := j.c.Pipeline()
	pushes := make([]*redis.IntCmd, len(cids))
	for i, cid := range cids {
		k := j.ks.Journal(cid)
		pushes[i] = pipe.RPush(wctx, k, lines[cid]...)
		pipe.LTrim(wctx, k, -JournalMaxEvents, -1)
		pipe.Expire(wctx, k, j.ttl)
	}
	for _, uc := range users {
		k := j.ks.UserCIDs(uc.user)
		pipe.LRem(wctx, k, 0, uc.cid)
		pipe.LPush(wctx, k, uc.cid)
		pipe.LTrim(wctx, k, 0, JournalMaxCIDs-1)
		pipe.Expire(wctx, k, j.ttl)
	}
	_, err := pipe.Exec(wctx)
	if err != nil {
		failed := 0
		for i, c := range pushes {
			if c.Err() != nil {
				failed += len(lines[cids[i]])
			}
		}
		if failed == 0 { // events stored, but a trim, expiry or cid list failed: count once
			failed = 1
		}
		j.fail(failed)
		j.lastErr = err
	}
	j.done.Add(int64(len(batch)))
	j.mu.Lock()
	close(j.progress)
	j.progress = make(chan struct{})
	j.mu.Unlock()
}

// report logs JOURNAL_WRITE_FAILED when there are failures not reported yet
// and the last report is a minute old (or force).
func (j *Journal) report(force bool) {
	f, d := j.failures.Load(), j.dropped.Load()
	if f == j.reportedFail {
		return
	}
	now := j.now()
	if !force && !j.lastReport.IsZero() && now.Sub(j.lastReport) < journalReportEvery {
		return
	}
	log := j.log.Load()
	if log == nil {
		return
	}
	errText := "event buffer full"
	if j.lastErr != nil {
		errText = j.lastErr.Error()
	}
	log.Service(warn, EvJournalError, "event journal writes failed or were dropped; the chain of some cids is incomplete",
		zap.String(FReasonCode, string(ReasonRedisUnavailable)),
		zap.Int64(FFailed, f-j.reportedFail), zap.Int64(FDropped, d-j.reportedDropped),
		zap.String(FError, log.text(errText)))
	j.reportedFail, j.reportedDropped, j.lastReport, j.lastErr = f, d, now, nil
}

// Flush waits until every event recorded before the call is written (or
// has failed), or ctx is done. It needs Run to be running.
func (j *Journal) Flush(ctx context.Context) error {
	target := j.queued.Load()
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
			return fmt.Errorf("telemetry: journal flush: %w", ctx.Err())
		}
	}
}

// Chain returns the events of cid, oldest first (by ts; events with the
// same ts keep the order they were written in). A cid never logged, or
// expired, gives an empty chain and no error. Lines that do not decode are
// skipped.
func (j *Journal) Chain(ctx context.Context, cid string) ([]JournalEvent, error) {
	if !ValidCID(cid) {
		return nil, fmt.Errorf("%w: %q", ErrBadCID, cid)
	}
	vals, err := j.c.LRange(ctx, j.ks.Journal(cid), 0, -1).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("telemetry: read journal of %s: %w", cid, err)
	}
	events := make([]JournalEvent, 0, len(vals))
	for _, v := range vals {
		if e, err := DecodeEvent([]byte(v)); err == nil {
			events = append(events, e)
		}
	}
	SortEvents(events)
	return events, nil
}

// LastCIDs returns the user's last n cids (at most JournalMaxCIDs), newest
// first.
func (j *Journal) LastCIDs(ctx context.Context, userID int64, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	if n > JournalMaxCIDs {
		n = JournalMaxCIDs
	}
	cids, err := j.c.LRange(ctx, j.ks.UserCIDs(userID), 0, int64(n-1)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("telemetry: read last cids of user %d: %w", userID, err)
	}
	return cids, nil
}
