package journal

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// writer writes the blocks the gatherer hands it (its own goroutine, so
// that a slow write never stops the gathering): it picks each block's
// tier, moves failing chains, rotates segments, counts and reports what
// was lost.
type writer struct {
	j       *Journal
	view    atomic.Pointer[state] // the meta hash as last read (the gatherer reads debug users from it)
	viewAt  time.Time
	failing map[string]time.Time // failing cids -> forget after
	promos  []promo
	cur     map[string]int64     // current segment per tier
	named   map[string]time.Time // instance names written to the meta hash, when
	written int64                // bytes written since the last janitor kick
	down    time.Time            // writes are skipped until then
	backoff time.Duration
	lost    int64 // events lost and not yet added to the meta hash's count

	// reporting
	lastReport      time.Time
	reportedFail    int64
	reportedDropped int64
	lastErr         error
}

// promo is a failing chain whose part in the ok tier is to be moved to
// the fail tier.
type promo struct {
	cid   string // 4-byte key
	due   time.Time
	begin int64 // when the chain began, µs
}

func (w *writer) init(j *Journal) {
	w.j = j
	w.failing = map[string]time.Time{}
	w.cur = map[string]int64{}
	w.named = map[string]time.Time{}
	w.view.Store(parseState(nil))
}

// batch is what the gatherer hands the writer: blocks to write, and
// whether to move every failing chain now (Flush, shutdown).
type batch struct {
	blocks []*pending
	all    bool
}

// run writes batches until in is closed, then moves what is left to move
// and reports.
func (w *writer) run(ctx context.Context, in <-chan batch) {
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	for {
		select {
		case b, ok := <-in:
			if !ok {
				w.promote(ctx, w.j.now(), true)
				w.report(true)
				return
			}
			now := w.j.now()
			w.refresh(ctx, now)
			for len(b.blocks) > 0 {
				n := min(len(b.blocks), batchBlocks)
				w.write(ctx, b.blocks[:n])
				b.blocks = b.blocks[n:]
			}
			w.promote(ctx, now, b.all)
		case <-tick.C:
			now := w.j.now()
			w.refresh(ctx, now)
			w.promote(ctx, now, false)
			w.forget(now)
			w.report(false)
		}
	}
}

// refresh rereads the meta hash (current segments, debug users) once a
// second, unless writes are failing.
func (w *writer) refresh(ctx context.Context, now time.Time) {
	if now.Sub(w.viewAt) < refreshEvery || now.Before(w.down) {
		return
	}
	w.viewAt = now
	rctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	st, err := w.j.readState(rctx)
	if err != nil {
		return // the next write fails too, and says so
	}
	w.view.Store(st)
	for t, id := range st.cur {
		if id > w.cur[t] {
			w.cur[t] = id
		}
	}
}

// tierOf says where a block goes, and remembers failing chains.
func (w *writer) tierOf(p *pending, now time.Time) string {
	key := mustKey(p.cid)
	if w.view.Load().debugUser(p.update.UserID, now.UnixMilli()) {
		p.debug = true
		return TierDebug
	}
	if _, ok := w.failing[key]; ok {
		w.failing[key] = now.Add(failingMemory)
		return TierFail
	}
	if !p.failing {
		return TierOK
	}
	w.failing[key] = now.Add(failingMemory)
	// the ingesting instance writes its part within a moment (QUEUE_ENQUEUE
	// ends it); once more later for a slow one
	w.promos = append(w.promos, promo{cid: key, due: now.Add(promoteDelay), begin: p.begin},
		promo{cid: key, due: now.Add(promoteAgain), begin: p.begin})
	return TierFail
}

// write stores blocks with one pipeline: per tier one append to its
// current segment, and the users' last cids.
func (w *writer) write(ctx context.Context, blocks []*pending) {
	now := w.j.now()
	events := 0
	for _, p := range blocks {
		events += p.n
	}
	defer w.j.finished(events)
	if now.Before(w.down) {
		w.lose(events)
		return
	}
	groups := map[string]*group{}
	users := []any{}
	seenUser := map[string]bool{}
	for _, p := range blocks {
		tier := w.tierOf(p, now)
		g := groups[tier]
		if g == nil {
			g = &group{args: []any{w.j.opt.TTL.Milliseconds()}}
			groups[tier] = g
		}
		key := mustKey(p.cid)
		data := p.appendBlock(nil)
		g.args = append(g.args, key, data)
		g.events += p.n
		g.bytes += int64(len(data)) + 48
		if p.update.UserID != 0 && !p.picked {
			uk := userKey(p.update.UserID)
			if !seenUser[uk+key] {
				seenUser[uk+key] = true
				entry := binary.BigEndian.AppendUint32([]byte(key), uint32(p.base/1_000_000))
				users = append(users, uk, string(entry))
			}
		}
		w.noteName(p.instance)
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	tiers := make([]string, 0, len(groups)+1)
	for t := range groups {
		tiers = append(tiers, t)
	}
	if len(users) > 0 {
		tiers = append(tiers, TierUsers)
	}
	if err := w.ensureCurrent(wctx, tiers); err != nil {
		w.failed(err, events)
		return
	}
	results := w.appendAll(wctx, groups, users, now)
	lost := 0
	var firstErr error
	for t, r := range results {
		if r.err != nil {
			if g := groups[t]; g != nil {
				lost += g.events
			}
			if firstErr == nil {
				firstErr = r.err
			}
			continue
		}
		if g := groups[t]; g != nil {
			w.written += g.bytes
		}
		// full, or old enough that its first chains would outlive the TTL
		// by much (each write extends the segment's expiry)
		if r.n >= segmentTarget(w.j.opt.MaxMemory) || now.UnixMilli()-w.cur[t] >= (w.j.opt.TTL/segmentAge).Milliseconds() {
			if id, err := w.j.rotate(wctx, t, w.cur[t]); err == nil {
				w.cur[t] = id
			}
		}
	}
	if firstErr != nil {
		if lost == 0 { // only the users' lists: count one
			lost = 1
		}
		w.failed(firstErr, lost)
		return
	}
	w.backoff = 0
	w.kickJanitor()
}

// appended is the outcome of one tier's append.
type appended struct {
	n   int64 // the segment's size after it
	err error
}

// appendAll appends each tier's blocks (and the users' last cids) to the
// tier's current segment, in one pipeline. A tier whose segment is gone
// (another instance started a new one and the janitor deleted the old)
// is written again, once, to the current segment.
func (w *writer) appendAll(ctx context.Context, groups map[string]*group, users []any, now time.Time) map[string]appended {
	out := make(map[string]appended, len(groups)+1)
	todo := make([]string, 0, len(groups)+1)
	for t := range groups {
		todo = append(todo, t)
	}
	if len(users) > 0 {
		todo = append(todo, TierUsers)
	}
	for attempt := 0; attempt < 2 && len(todo) > 0; attempt++ {
		pipe := w.j.c.Pipeline()
		cmds := make(map[string]*redis.Cmd, len(todo))
		for _, t := range todo {
			key := []string{w.j.ks.JournalSegment(t, w.cur[t])}
			if t == TierUsers {
				cmds[t] = usersScript.Eval(ctx, pipe, key, append([]any{w.j.opt.TTL.Milliseconds(), MaxCIDs}, users...)...)
			} else {
				cmds[t] = appendScript.Eval(ctx, pipe, key, groups[t].args...)
			}
		}
		lostBefore, lostCmd := w.addMeta(ctx, pipe, now)
		_, _ = pipe.Exec(ctx)
		if lostCmd != nil && lostCmd.Err() != nil {
			w.lost += lostBefore
		}
		var gone []string
		for _, t := range todo {
			n, err := cmds[t].Int64()
			if err == nil && n < 0 {
				gone = append(gone, t)
				continue
			}
			out[t] = appended{n: n, err: err}
		}
		if len(gone) > 0 && attempt == 0 {
			if err := w.current(ctx, gone); err != nil {
				for _, t := range gone {
					out[t] = appended{err: err}
				}
				return out
			}
		}
		for _, t := range gone {
			out[t] = appended{err: fmt.Errorf("journal: %s segment %d is gone", t, w.cur[t])}
		}
		todo = gone
	}
	return out
}

// current rereads the current segments of tiers whose segment was gone;
// a current segment without its key (its maker has not made it yet, or
// it expired) is made.
func (w *writer) current(ctx context.Context, tiers []string) error {
	st, err := w.j.readState(ctx)
	if err != nil {
		return err
	}
	w.view.Store(st)
	for _, t := range tiers {
		if c := st.cur[t]; c > w.cur[t] {
			w.cur[t] = c
			continue
		}
		if w.cur[t] == 0 {
			return w.ensureCurrent(ctx, []string{t})
		}
		if err := w.j.makeSegment(ctx, t, w.cur[t]); err != nil {
			return err
		}
	}
	return nil
}

// group is the blocks of one tier in a write.
type group struct {
	args   []any // the TTL, then cid, blocks pairs
	events int
	bytes  int64
}

// ensureCurrent makes sure each tier has a current segment.
func (w *writer) ensureCurrent(ctx context.Context, tiers []string) error {
	for _, t := range tiers {
		if w.cur[t] != 0 {
			continue
		}
		id, err := w.j.rotate(ctx, t, 0)
		if err != nil {
			return err
		}
		w.cur[t] = id
	}
	return nil
}

// addMeta adds to a write's pipeline what the meta hash should learn: the
// names of the instances written for (again once a minute, so that the
// janitor keeps them), and the losses not yet counted. It returns the
// count of losses it added (to count again if the write fails).
func (w *writer) addMeta(ctx context.Context, pipe redis.Pipeliner, now time.Time) (lost int64, cmd *redis.IntCmd) {
	meta := w.j.ks.JournalMeta()
	for name, at := range w.named {
		if now.Sub(at) >= time.Minute {
			pipe.HSet(ctx, meta, mInst+instHex(name), strconv.FormatInt(now.UnixMilli(), 10)+" "+name)
			w.named[name] = now
		}
	}
	if w.lost > 0 {
		lost, w.lost = w.lost, 0
		cmd = pipe.HIncrBy(ctx, meta, mLost, lost)
	}
	return lost, cmd
}

// noteName marks an instance name as one to write to the meta hash.
func (w *writer) noteName(name string) {
	if _, ok := w.named[name]; !ok {
		w.named[name] = time.Time{}
	}
}

func userKey(user int64) string {
	return string(binary.BigEndian.AppendUint64(nil, uint64(user)))
}

// kickJanitor asks for a janitor pass when this instance wrote a
// segment's worth since the last one.
func (w *writer) kickJanitor() {
	if w.written < segmentTarget(w.j.opt.MaxMemory) {
		return
	}
	w.written = 0
	select {
	case w.j.janitorK <- struct{}{}:
	default:
	}
}

// failed counts a write that did not happen and backs off.
func (w *writer) failed(err error, events int) {
	w.lastErr = err
	w.lose(events)
	if w.backoff == 0 {
		w.backoff = backoffMin
	} else {
		w.backoff = min(2*w.backoff, backoffMax)
	}
	w.down = w.j.now().Add(w.backoff)
}

func (w *writer) lose(events int) {
	w.j.fail(events)
	w.lost += int64(events)
}

// promote moves the ok part of failing chains to the fail tier: those
// due (or all, on Flush and at the end).
func (w *writer) promote(ctx context.Context, now time.Time, all bool) {
	if len(w.promos) == 0 || now.Before(w.down) {
		return
	}
	var due []promo
	rest := w.promos[:0]
	for _, p := range w.promos {
		if all || !now.Before(p.due) {
			due = append(due, p)
		} else if now.Sub(p.due) < time.Minute {
			rest = append(rest, p)
		}
	}
	w.promos = rest
	if len(due) == 0 {
		return
	}
	begin := due[0].begin
	cids := make([]any, 0, len(due))
	for _, p := range due {
		begin = min(begin, p.begin)
		cids = append(cids, p.cid)
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	// the ok segments written since the earliest of the chains began, as
	// the meta hash lists them now (other instances may have started some)
	st, err := w.j.readState(wctx)
	if err != nil {
		w.failed(err, 0)
		return
	}
	w.view.Store(st)
	var segs []int64
	from := begin/1000 - 5000
	for _, s := range st.segs[TierOK] {
		if s.end == 0 || s.end+5000 >= from {
			segs = append(segs, s.id)
		}
	}
	if c := st.cur[TierOK]; c != 0 && !slices.Contains(segs, c) {
		segs = append(segs, c)
	}
	if len(segs) == 0 {
		return
	}
	pipe := w.j.c.Pipeline()
	type take struct {
		cmd interface{ Slice() ([]any, error) }
	}
	takes := make([]take, 0, len(segs))
	for _, id := range segs {
		takes = append(takes, take{takeScript.Eval(wctx, pipe, []string{w.j.ks.JournalSegment(TierOK, id)}, cids...)})
	}
	_, _ = pipe.Exec(wctx)
	args := []any{w.j.opt.TTL.Milliseconds()}
	for _, t := range takes {
		vals, err := t.cmd.Slice()
		if err != nil {
			continue
		}
		for _, v := range vals {
			args = append(args, v)
		}
	}
	if len(args) == 1 {
		return
	}
	if err := w.ensureCurrent(wctx, []string{TierFail}); err != nil {
		w.failed(err, 1)
		return
	}
	if r := w.appendAll(wctx, map[string]*group{TierFail: {args: args}}, nil, now)[TierFail]; r.err != nil {
		w.failed(r.err, 1) // the moved events are lost
	}
}

// forget drops what is remembered of failing cids after a while.
func (w *writer) forget(now time.Time) {
	for k, until := range w.failing {
		if now.After(until) {
			delete(w.failing, k)
		}
	}
}

// report logs JOURNAL_WRITE_FAILED when there are losses not reported yet
// and the last report is a minute old (or force).
func (w *writer) report(force bool) {
	f, d := w.j.failures.Load(), w.j.dropped.Load()
	if f == w.reportedFail {
		return
	}
	now := w.j.now()
	if !force && !w.lastReport.IsZero() && now.Sub(w.lastReport) < reportEvery {
		return
	}
	log := w.j.log.Load()
	if log == nil {
		return
	}
	errText := "event buffer full"
	if w.lastErr != nil {
		errText = w.lastErr.Error()
	}
	log.Service(zapcore.WarnLevel, telemetry.EvJournalError,
		"event journal writes failed or were dropped; the chains of some cids are incomplete (dispatch is not affected)",
		zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)),
		zap.Int64(telemetry.FFailed, f-w.reportedFail), zap.Int64(telemetry.FDropped, d-w.reportedDropped),
		zap.String(telemetry.FError, errText))
	w.reportedFail, w.reportedDropped, w.lastReport, w.lastErr = f, d, now, nil
}

func instHex(name string) string { return hex8(instanceID(name)) }
