package journal

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
)

// Stats is what `dispatcher status` shows of the journal.
type Stats struct {
	// Used is the measured size of the journal's keys (bytes), Budget the
	// budget the last janitor pass enforced (the configured one when no
	// pass has run).
	Used   int64 `json:"used_bytes"`
	Budget int64 `json:"budget_bytes"`
	// OldestChain is when the oldest chain kept was written (zero: none);
	// OldestFailing the same for the fail tier.
	OldestChain   time.Time   `json:"oldest_chain,omitzero"`
	OldestFailing time.Time   `json:"oldest_failing_chain,omitzero"`
	Tiers         []TierStats `json:"tiers"`
	// Evicted counts the segments the budget evicted; KeptFor is how old
	// the newest chain of the last evicted ok segment was: about how long
	// chains that went well are kept now (0: nothing evicted yet).
	Evicted int64         `json:"evicted_segments"`
	KeptFor time.Duration `json:"ok_kept_for_ns"`
	// NotWritten counts events instances could not write (Redis down,
	// buffer full), as far as they could tell the journal afterwards.
	NotWritten int64     `json:"not_written_events"`
	DebugUsers int       `json:"debug_users"`
	Measured   time.Time `json:"measured,omitzero"`
}

// TierStats is one tier in Stats.
type TierStats struct {
	Tier     string `json:"tier"`
	Segments int    `json:"segments"`
	Bytes    int64  `json:"bytes"`
}

// Stats measures the journal now.
func (j *Journal) Stats(ctx context.Context) (Stats, error) {
	st, err := j.readState(ctx)
	if err != nil {
		return Stats{}, err
	}
	jn := &janitor{j: j}
	now := j.now().UnixMilli()
	for _, segs := range st.segs {
		for i := range segs {
			segs[i].measured = 0 // measure all of them now
		}
	}
	total, err := jn.measure(ctx, st, now)
	if err != nil {
		return Stats{}, err
	}
	s := Stats{Used: total, Budget: st.budget, NotWritten: st.lost, Measured: time.UnixMilli(now)}
	if s.Budget == 0 {
		s.Budget = j.opt.MaxMemory
	}
	if t, ok := oldestChain(st); ok {
		s.OldestChain = t
	}
	if segs := st.segs[TierFail]; len(segs) > 0 {
		s.OldestFailing = time.UnixMilli(segs[0].id)
	}
	for _, t := range allTiers {
		s.Tiers = append(s.Tiers, TierStats{Tier: t, Segments: len(st.segs[t]), Bytes: st.bytes(t)})
		s.Evicted += st.evictions[t]
	}
	for user, until := range st.debug {
		if user != 0 && until > now {
			s.DebugUsers++
		}
	}
	evs, err := j.evictions(ctx)
	if err != nil {
		return Stats{}, err
	}
	for _, e := range evs {
		if e.Tier == TierOK && e.End > 0 {
			s.KeptFor = time.Duration(e.At-e.End) * time.Millisecond
			break
		}
	}
	return s, nil
}

// ExactSize is the exact size of the journal's keys on a single Redis (not
// a Cluster): MEMORY USAGE ... SAMPLES 0 of every key SCAN finds, plus the
// 8 bytes per hash entry it leaves out, in all and in the fail tier. It
// reads every element of every key: for tests and benchmarks, not for a
// Redis in service.
func ExactSize(ctx context.Context, c redis.Cmdable, ks keys.Space) (all, fail int64, err error) {
	prefix := ks.Namespace() + ":journal:"
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		n, err := c.MemoryUsage(ctx, k, 0).Result()
		if errors.Is(err, redis.Nil) {
			continue // deleted meanwhile
		}
		if err != nil {
			return 0, 0, err
		}
		if typ, _ := c.Type(ctx, k).Result(); typ == "hash" {
			n += dictEntrySlack * c.HLen(ctx, k).Val()
		}
		all += n
		if strings.HasPrefix(k, prefix+TierFail+":") {
			fail += n
		}
	}
	return all, fail, iter.Err()
}
