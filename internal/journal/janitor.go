package journal

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Janitor limits.
const (
	usersShare   = 10  // the users tier is evicted first while over budget/usersShare
	failShare    = 2   // the fail tier next while over budget/failShare
	youngSegment = 2e3 // ms: a segment closed more recently is measured again (writers may still have added to it)
	evictedKeep  = 1000
	pruneEvery   = time.Minute
	samples      = 64 // MEMORY USAGE ... SAMPLES: elements looked at per segment
	// dictEntrySlack is what MEMORY USAGE leaves out of each field of a
	// large hash (measured: 9 bytes a field on Redis 7.0 with jemalloc)
	dictEntrySlack = 8
)

// eviction is one record of keys.JournalEvicted.
type eviction struct {
	Tier  string `json:"tier"`
	Start int64  `json:"start"` // the segment's first write, Unix ms
	End   int64  `json:"end"`   // when the next segment began
	At    int64  `json:"at"`    // when it was evicted
	Bytes int64  `json:"bytes"`
}

// janitor keeps the journal within its budget; one per instance (the
// passes of several instances agree, since each evicts the oldest segment
// and a segment is deleted once).
type janitor struct {
	j         *Journal
	noMemory  bool // MEMORY USAGE is not supported (the embedded Redis): use the segments' own counts
	lastPrune time.Time
	logged    map[string]time.Time
	toLog     map[string]*evictedSum
}

type evictedSum struct {
	segments int
	bytes    int64
	age      int64 // ms: how old the newest evicted chain was
}

func (j *Journal) runJanitor(ctx context.Context) {
	jn := &janitor{j: j, logged: map[string]time.Time{}, toLog: map[string]*evictedSum{}}
	t := time.NewTicker(janitorEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-j.janitorK:
		}
		jn.pass(ctx)
	}
}

// pass measures the segments and evicts until the journal is within its
// budget.
func (jn *janitor) pass(ctx context.Context) {
	j := jn.j
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	st, err := j.readState(ctx)
	if err != nil {
		return // the writer counts and reports what this costs
	}
	now := j.now().UnixMilli()
	sizes, err := jn.measure(ctx, st, now)
	if err != nil {
		return
	}
	budget := j.opt.MaxMemory
	total := sizes
	pipe := j.c.Pipeline()
	meta := j.ks.JournalMeta()
	for i := 0; total > budget && i < 4*segmentParts; i++ {
		v, ok := victim(st, budget)
		if !ok {
			jn.rotateLargest(ctx, st)
			break
		}
		n, err := j.c.Unlink(ctx, j.ks.JournalSegment(v.tier, v.id)).Result()
		if err != nil {
			return
		}
		pipe.HDel(ctx, meta, v.field())
		if n == 1 { // not deleted by another instance's janitor meanwhile
			rec, _ := json.Marshal(eviction{Tier: v.tier, Start: v.id, End: v.end, At: now, Bytes: v.bytes})
			pipe.LPush(ctx, j.ks.JournalEvicted(), rec)
			pipe.LTrim(ctx, j.ks.JournalEvicted(), 0, evictedKeep-1)
			pipe.PExpire(ctx, j.ks.JournalEvicted(), j.opt.TTL+time.Hour)
			pipe.HIncrBy(ctx, meta, mEvictions+v.tier, 1)
			jn.note(v, now)
		}
		st.drop(v)
		total -= v.bytes
	}
	pipe.HSet(ctx, meta, mBudget, budget, mUsed, total, mMeasured, now)
	if j.now().Sub(jn.lastPrune) >= pruneEvery {
		jn.lastPrune = j.now()
		jn.prune(ctx, pipe, st, now)
	}
	_, _ = pipe.Exec(ctx)
	jn.logEvictions()
}

// measure refreshes the sizes of the current segments and of closed ones
// not measured for a while, forgets segments that are gone (expired, or
// evicted by Redis itself), and returns the journal's total size.
func (jn *janitor) measure(ctx context.Context, st *state, now int64) (int64, error) {
	j := jn.j
	type probe struct {
		seg  *segment
		cmd  *redis.IntCmd
		n    *redis.StringCmd
		hlen *redis.IntCmd
	}
	var probes []probe
	pipe := j.c.Pipeline()
	for _, tier := range allTiers {
		if c := st.cur[tier]; c != 0 && !st.has(tier, c) {
			st.segs[tier] = append(st.segs[tier], segment{tier: tier, id: c})
		}
		for i := range st.segs[tier] {
			s := &st.segs[tier][i]
			// current, closed lately (writers may have added to it since
			// it was last measured), or not measured for a while
			if s.id != st.cur[tier] && s.measured != 0 && s.measured > s.end+youngSegment &&
				now-s.measured < measureStale.Milliseconds() {
				continue
			}
			p := probe{seg: s}
			key := j.ks.JournalSegment(tier, s.id)
			if jn.noMemory {
				p.n = pipe.HGet(ctx, key, "n")
				p.cmd = pipe.Exists(ctx, key)
			} else {
				p.cmd = pipe.MemoryUsage(ctx, key, samples)
				p.hlen = pipe.HLen(ctx, key)
			}
			probes = append(probes, p)
		}
	}
	metaCmd := pipe.MemoryUsage(ctx, j.ks.JournalMeta(), samples)
	logCmd := pipe.MemoryUsage(ctx, j.ks.JournalEvicted(), samples)
	_, _ = pipe.Exec(ctx)
	upd := j.c.Pipeline()
	meta := j.ks.JournalMeta()
	for _, p := range probes {
		var size int64
		var err error
		if p.n != nil {
			size, _ = p.n.Int64()
			var exists int64
			if exists, err = p.cmd.Result(); err == nil && exists == 0 {
				err = redis.Nil
			}
		} else if size, err = p.cmd.Result(); err == nil {
			// MEMORY USAGE counts a hash entry as sizeof(dictEntry), 24
			// bytes, where the allocator gives it 32
			size += dictEntrySlack * p.hlen.Val()
		}
		switch {
		case errors.Is(err, redis.Nil):
			if p.seg.id != st.cur[p.seg.tier] { // gone: expired, or evicted by Redis
				upd.HDel(ctx, meta, p.seg.field())
				p.seg.bytes, p.seg.measured = -1, now
				continue
			}
			size = 0
		case err != nil && isReply(err) && !jn.noMemory:
			// the embedded Redis has no MEMORY USAGE ... SAMPLES: count
			jn.noMemory = true
			return jn.measure(ctx, st, now)
		case err != nil:
			return 0, err
		}
		p.seg.bytes, p.seg.measured = size, now
		upd.HSet(ctx, meta, p.seg.field(), strconv.FormatInt(size, 10)+" "+strconv.FormatInt(now, 10))
	}
	if _, err := upd.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	st.dropGone()
	var total int64
	for _, segs := range st.segs {
		for _, s := range segs {
			total += s.bytes
		}
	}
	for _, c := range []*redis.IntCmd{metaCmd, logCmd} {
		if n, err := c.Result(); err == nil {
			total += n
		}
	}
	return total, nil
}

// isReply reports whether err is an error reply of the server (not a
// connection's trouble).
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, redis.Nil)
}

// victim picks the segment to evict (see the package doc): oldest first
// within a tier; users while over a tenth of the budget, fail while over
// half, then ok, fail, users, debug. The current segment of a tier is
// never picked.
func victim(st *state, budget int64) (segment, bool) {
	closed := func(tier string) (segment, bool) {
		for _, s := range st.segs[tier] {
			if s.id != st.cur[tier] && s.end != 0 {
				return s, true
			}
		}
		return segment{}, false
	}
	if st.bytes(TierUsers) > budget/usersShare {
		if s, ok := closed(TierUsers); ok {
			return s, true
		}
	}
	if st.bytes(TierFail) > budget/failShare {
		if s, ok := closed(TierFail); ok {
			return s, true
		}
	}
	for _, t := range []string{TierOK, TierFail, TierUsers, TierDebug} {
		if s, ok := closed(t); ok {
			return s, true
		}
	}
	return segment{}, false
}

// rotateLargest closes the largest current segment when there is nothing
// else to evict, so that the next pass can.
func (jn *janitor) rotateLargest(ctx context.Context, st *state) {
	var best segment
	for _, tier := range allTiers {
		for _, s := range st.segs[tier] {
			if s.id == st.cur[tier] && s.bytes > best.bytes {
				best = s
			}
		}
	}
	if best.bytes >= minSegment {
		_, _ = jn.j.rotate(ctx, best.tier, best.id)
	}
}

// prune forgets debug users whose time is over and instance names not
// seen for longer than the journal keeps anything.
func (jn *janitor) prune(ctx context.Context, pipe redis.Pipeliner, st *state, now int64) {
	meta := jn.j.ks.JournalMeta()
	for user, until := range st.debug {
		if until <= now {
			pipe.HDel(ctx, meta, mDebug+strconv.FormatInt(user, 10))
		}
	}
	stale := now - (jn.j.opt.TTL + time.Hour).Milliseconds()
	for id, at := range st.seen {
		if at < stale {
			pipe.HDel(ctx, meta, mInst+hex8(id))
		}
	}
}

func (jn *janitor) note(v segment, now int64) {
	s := jn.toLog[v.tier]
	if s == nil {
		s = &evictedSum{}
		jn.toLog[v.tier] = s
	}
	s.segments++
	s.bytes += v.bytes
	s.age = now - v.end
}

// logEvictions logs JOURNAL_EVICTED at most once a minute per tier.
func (jn *janitor) logEvictions() {
	log := jn.j.log.Load()
	now := jn.j.now()
	for tier, s := range jn.toLog {
		if s.segments == 0 || (!jn.logged[tier].IsZero() && now.Sub(jn.logged[tier]) < reportEvery) {
			continue
		}
		if log != nil {
			log.Service(zapcore.InfoLevel, telemetry.EvJournalEvicted,
				"the journal budget (JOURNAL_MAX_MEMORY) evicted the oldest chains of tier "+tier+
					"; chains this old are no longer kept: "+(time.Duration(s.age)*time.Millisecond).Round(time.Second).String(),
				zap.String(telemetry.FTier, tier), zap.Int(telemetry.FSegments, s.segments),
				zap.Int64(telemetry.FBytes, s.bytes), zap.Int64(telemetry.FAgeMS, s.age))
		}
		jn.logged[tier] = now
		delete(jn.toLog, tier)
	}
}
