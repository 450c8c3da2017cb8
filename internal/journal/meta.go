package journal

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed append.lua
	appendLua    string
	appendScript = redis.NewScript(appendLua)
	//go:embed users.lua
	usersLua    string
	usersScript = redis.NewScript(usersLua)
	//go:embed take.lua
	takeLua    string
	takeScript = redis.NewScript(takeLua)
	//go:embed rotate.lua
	rotateLua    string
	rotateScript = redis.NewScript(rotateLua)
)

// Fields of the meta hash (keys.JournalMeta).
const (
	mCur       = "cur:"       // cur:<tier> -> id of the tier's current segment
	mSeg       = "seg:"       // seg:<tier>:<id> -> "<bytes> <measured at, Unix ms>"
	mInst      = "inst:"      // inst:<id, 8 hex> -> "<last seen, Unix ms> <instance name>"
	mDebug     = "dbg:"       // dbg:<user id> -> debug mode until (Unix ms)
	mEvictions = "evictions:" // evictions:<tier> -> segments the budget evicted
	mBudget    = "budget"     // the budget the last janitor pass enforced
	mUsed      = "used"       // what that pass measured
	mMeasured  = "measured"   // when (Unix ms)
	mLost      = "lost"       // events not kept: dropped or not written (reported late)
)

// segment is one segment as the meta hash lists it.
type segment struct {
	tier     string
	id       int64 // creation time, Unix ms
	end      int64 // the next segment's id, 0 for the current one
	bytes    int64 // last measured size
	measured int64 // when, Unix ms (0: never)
}

func (s segment) field() string { return mSeg + s.tier + ":" + strconv.FormatInt(s.id, 10) }

// state is the meta hash decoded.
type state struct {
	cur       map[string]int64
	segs      map[string][]segment // by tier, oldest first
	names     map[uint32]string
	seen      map[uint32]int64 // when each name was last refreshed
	debug     map[int64]int64  // user -> until, Unix ms
	evictions map[string]int64
	budget    int64
	used      int64
	measured  int64
	lost      int64
}

func (j *Journal) readState(ctx context.Context) (*state, error) {
	m, err := j.c.HGetAll(ctx, j.ks.JournalMeta()).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("journal: read meta: %w", err)
	}
	return parseState(m), nil
}

func parseState(m map[string]string) *state {
	st := &state{cur: map[string]int64{}, segs: map[string][]segment{}, names: map[uint32]string{},
		seen: map[uint32]int64{}, debug: map[int64]int64{}, evictions: map[string]int64{}}
	num := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	for k, v := range m {
		switch {
		case strings.HasPrefix(k, mCur):
			st.cur[k[len(mCur):]] = num(v)
		case strings.HasPrefix(k, mSeg):
			tier, id, ok := strings.Cut(k[len(mSeg):], ":")
			if !ok {
				continue
			}
			b, at, _ := strings.Cut(v, " ")
			st.segs[tier] = append(st.segs[tier], segment{tier: tier, id: num(id), bytes: num(b), measured: num(at)})
		case strings.HasPrefix(k, mInst):
			id, err := strconv.ParseUint(k[len(mInst):], 16, 32)
			at, name, ok := strings.Cut(v, " ")
			if err == nil && ok {
				st.names[uint32(id)] = name
				st.seen[uint32(id)] = num(at)
			}
		case strings.HasPrefix(k, mDebug):
			st.debug[num(k[len(mDebug):])] = num(v)
		case strings.HasPrefix(k, mEvictions):
			st.evictions[k[len(mEvictions):]] = num(v)
		case k == mBudget:
			st.budget = num(v)
		case k == mUsed:
			st.used = num(v)
		case k == mMeasured:
			st.measured = num(v)
		case k == mLost:
			st.lost = num(v)
		}
	}
	for tier, segs := range st.segs {
		slices.SortFunc(segs, func(a, b segment) int { return int(a.id - b.id) })
		for i := range segs {
			if i+1 < len(segs) {
				segs[i].end = segs[i+1].id
			}
		}
		st.segs[tier] = segs
	}
	return st
}

func (st *state) has(tier string, id int64) bool {
	for _, s := range st.segs[tier] {
		if s.id == id {
			return true
		}
	}
	return false
}

func (st *state) dropGone() {
	for tier, segs := range st.segs {
		kept := segs[:0]
		for _, s := range segs {
			if s.bytes >= 0 {
				kept = append(kept, s)
			}
		}
		st.segs[tier] = kept
	}
}

func (st *state) drop(v segment) {
	segs := st.segs[v.tier]
	for i, s := range segs {
		if s.id == v.id {
			st.segs[v.tier] = append(segs[:i:i], segs[i+1:]...)
			return
		}
	}
}

func (st *state) bytes(tier string) int64 {
	var n int64
	for _, s := range st.segs[tier] {
		n += s.bytes
	}
	return n
}

// debugUser reports whether user is in debug mode at now (Unix ms).
func (st *state) debugUser(user, now int64) bool { return user != 0 && st.debug[user] > now }

// segmentKeys lists the keys of the segments of tiers, oldest first.
func (j *Journal) segmentKeys(st *state, tiers ...string) []segment {
	var out []segment
	for _, t := range tiers {
		out = append(out, st.segs[t]...)
	}
	return out
}

// rotate makes a new current segment for tier unless another instance
// already replaced seen; it returns the tier's current segment. The
// segment's key is made here (append.lua never makes one, so that a write
// to a segment the janitor deleted cannot bring it back unaccounted).
func (j *Journal) rotate(ctx context.Context, tier string, seen int64) (int64, error) {
	prev := ""
	if seen != 0 {
		prev = strconv.FormatInt(seen, 10)
	}
	want := max(j.now().UnixMilli(), seen+1)
	v, err := rotateScript.Run(ctx, j.c, []string{j.ks.JournalMeta()}, tier, prev, want).Text()
	if err != nil {
		return 0, fmt.Errorf("journal: new %s segment: %w", tier, err)
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("journal: new %s segment: bad id %q", tier, v)
	}
	if id == want {
		err = j.makeSegment(ctx, tier, id)
	}
	return id, err
}

// makeSegment makes the key of a new current segment (harmless when it
// exists).
func (j *Journal) makeSegment(ctx context.Context, tier string, id int64) error {
	key := j.ks.JournalSegment(tier, id)
	pipe := j.c.Pipeline()
	pipe.HSetNX(ctx, key, "n", 0)
	pipe.PExpire(ctx, key, j.opt.TTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("journal: make %s segment: %w", tier, err)
	}
	return nil
}

// segmentTarget is the size at which a tier starts a new segment.
func segmentTarget(budget int64) int64 { return max(budget/segmentParts, minSegment) }

// hex8 writes an instance id as the meta hash names it.
func hex8(id uint32) string {
	s := strconv.FormatUint(uint64(id), 16)
	return strings.Repeat("0", 8-len(s)) + s
}
