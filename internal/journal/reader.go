package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// chain is what the journal holds of one cid.
type chain struct {
	events    []telemetry.JournalEvent
	truncated []string // instances whose part reached MaxEvents
	st        *state
}

func (j *Journal) readChain(ctx context.Context, cid string) (chain, error) {
	key, ok := cidKey(cid)
	if !ok {
		return chain{}, fmt.Errorf("%w: %q", telemetry.ErrBadCID, cid)
	}
	st, err := j.readState(ctx)
	if err != nil {
		return chain{}, err
	}
	segs := j.segmentKeys(st, chainTiers...)
	for _, t := range chainTiers { // a current segment not listed yet
		if c := st.cur[t]; c != 0 && !st.has(t, c) {
			segs = append(segs, segment{tier: t, id: c})
		}
	}
	pipe := j.c.Pipeline()
	cmds := make([]*redis.StringCmd, len(segs))
	for i, s := range segs {
		cmds[i] = pipe.HGet(ctx, j.ks.JournalSegment(s.tier, s.id), key)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return chain{}, fmt.Errorf("journal: read chain of %s: %w", cid, err)
	}
	ch := chain{st: st}
	for _, c := range cmds {
		v, err := c.Bytes()
		if err != nil {
			continue
		}
		for _, b := range decodeBlocks(cid, v, st.names) {
			ch.events = append(ch.events, b.events...)
			if b.flags&flagTruncated != 0 && len(b.events) > 0 {
				ch.truncated = append(ch.truncated, b.events[0].Instance())
			}
		}
	}
	telemetry.SortEvents(ch.events)
	return ch, nil
}

// Chain returns the events of cid, oldest first (by ts; events with the
// same ts keep the order they were written in). A cid never logged, or no
// longer kept, gives an empty chain and no error (NotKept says why).
func (j *Journal) Chain(ctx context.Context, cid string) ([]telemetry.JournalEvent, error) {
	ch, err := j.readChain(ctx, cid)
	return ch.events, err
}

// seen is one entry of a user's last cids.
type seen struct {
	cid string
	at  int64 // Unix seconds
}

func (j *Journal) lastSeen(ctx context.Context, st *state, userID int64) ([]seen, error) {
	segs := st.segs[TierUsers]
	if c := st.cur[TierUsers]; c != 0 && !st.has(TierUsers, c) {
		segs = append(segs, segment{tier: TierUsers, id: c})
	}
	pipe := j.c.Pipeline()
	cmds := make([]*redis.StringCmd, len(segs))
	uk := userKey(userID)
	for i, s := range segs {
		cmds[i] = pipe.HGet(ctx, j.ks.JournalSegment(TierUsers, s.id), uk)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("journal: read last cids of user %d: %w", userID, err)
	}
	latest := map[string]int64{}
	for _, c := range cmds {
		v, err := c.Bytes()
		if err != nil {
			continue
		}
		for i := 0; i+8 <= len(v); i += 8 {
			cid := cidText(string(v[i : i+4]))
			if at := int64(binary.BigEndian.Uint32(v[i+4 : i+8])); at >= latest[cid] {
				latest[cid] = at
			}
		}
	}
	out := make([]seen, 0, len(latest))
	for cid, at := range latest {
		out = append(out, seen{cid, at})
	}
	slices.SortFunc(out, func(a, b seen) int {
		if a.at != b.at {
			return int(b.at - a.at)
		}
		return 0
	})
	return out, nil
}

// LastCIDs returns the user's last n cids (at most MaxCIDs), newest first.
func (j *Journal) LastCIDs(ctx context.Context, userID int64, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	st, err := j.readState(ctx)
	if err != nil {
		return nil, err
	}
	all, err := j.lastSeen(ctx, st, userID)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, min(n, len(all)))
	for _, s := range all {
		if len(out) == n || len(out) == MaxCIDs {
			break
		}
		out = append(out, s.cid)
	}
	return out, nil
}

// NotKept says plainly what of cid's chain the journal does not keep and
// why (telemetry.JournalNotes): a chain evicted by the budget ("evicted
// after 3h12m by the journal budget"), expired, past the event cap, or
// never written. userID, when known, lets it find when the update was
// seen; without it, it says how long the budget keeps chains. "" means
// nothing is known to be missing.
func (j *Journal) NotKept(ctx context.Context, cid string, userID int64) (string, error) {
	ch, err := j.readChain(ctx, cid)
	if err != nil {
		return "", err
	}
	now := j.now()
	evs, err := j.evictions(ctx)
	if err != nil {
		return "", err
	}
	if len(ch.events) > 0 {
		return j.partial(ch, evs), nil
	}
	var at int64 // when the update was seen, Unix seconds
	if userID != 0 {
		list, err := j.lastSeen(ctx, ch.st, userID)
		if err != nil {
			return "", err
		}
		for _, s := range list {
			if s.cid == cid {
				at = s.at
			}
		}
	}
	if at == 0 {
		return j.horizon(ch.st, evs, now), nil
	}
	seenAt := time.Unix(at, 0)
	for _, e := range evs {
		if (e.Tier == TierOK || e.Tier == TierFail || e.Tier == TierDebug) && at*1000 >= e.Start-1000 && at*1000 < e.End+2000 {
			return fmt.Sprintf("the chain of %s (seen %s) was evicted after %s by the journal budget (JOURNAL_MAX_MEMORY)",
				cid, clock(seenAt), human(time.UnixMilli(e.At).Sub(seenAt))), nil
		}
	}
	if now.Sub(seenAt) > j.opt.TTL {
		return fmt.Sprintf("the chain of %s (seen %s) expired: the journal keeps chains for JOURNAL_TTL=%s", cid, clock(seenAt), human(j.opt.TTL)), nil
	}
	if oldest, ok := oldestChain(ch.st); ok && seenAt.Before(oldest) && ch.st.evictions[TierOK]+ch.st.evictions[TierFail] > 0 {
		return fmt.Sprintf("the chain of %s (seen %s) was evicted by the journal budget (JOURNAL_MAX_MEMORY): it is older than the oldest chain kept (%s)",
			cid, clock(seenAt), clock(oldest)), nil
	}
	return fmt.Sprintf("the chain of %s (seen %s) was not kept: its events never reached the journal (see JOURNAL_WRITE_FAILED, dispatcher_journal_dropped_total)",
		cid, clock(seenAt)), nil
}

// partial speaks of a chain with events: past the cap, or its start
// evicted.
func (j *Journal) partial(ch chain, evs []eviction) string {
	if len(ch.truncated) > 0 {
		return fmt.Sprintf("the chain reached %d events on %s; later events of it were not kept (a user in debug mode keeps every event)",
			MaxEvents, ch.truncated[0])
	}
	for _, e := range ch.events {
		switch telemetry.Event(e.Name()) {
		case telemetry.EvQueueEnqueue, telemetry.EvDuplicateUpdate, telemetry.EvWebhookRejected, telemetry.EvDLQReplayed:
			return ""
		}
	}
	first := ch.events[0].Time()
	for _, e := range evs {
		if e.Tier == TierOK && first.UnixMilli() >= e.Start-5000 && first.UnixMilli() < e.End+5000 {
			return fmt.Sprintf("the start of this chain (QUEUE_ENQUEUE on the ingesting instance) was evicted after %s by the journal budget",
				human(time.UnixMilli(e.At).Sub(first)))
		}
	}
	return ""
}

// horizon says, for a cid the journal knows nothing of, how long the
// budget keeps chains.
func (j *Journal) horizon(st *state, evs []eviction, now time.Time) string {
	kept := map[string]time.Duration{}
	for _, e := range evs { // newest first: the first of a tier is its latest
		if _, ok := kept[e.Tier]; !ok && e.End > 0 {
			kept[e.Tier] = time.Duration(e.At-e.End) * time.Millisecond
		}
	}
	ok, okEvicted := kept[TierOK]
	fail, failEvicted := kept[TierFail]
	switch {
	case okEvicted && failEvicted:
		return fmt.Sprintf("not in the journal: the journal budget (JOURNAL_MAX_MEMORY) evicts chains that went well after about %s and failing chains after about %s, so an older update's chain was evicted; chains also expire after JOURNAL_TTL=%s",
			human(ok), human(fail), human(j.opt.TTL))
	case okEvicted:
		return fmt.Sprintf("not in the journal: the journal budget (JOURNAL_MAX_MEMORY) evicts chains that went well after about %s (failing chains are kept longer), so an older update's chain was evicted; chains also expire after JOURNAL_TTL=%s",
			human(ok), human(j.opt.TTL))
	}
	if oldest, has := oldestChain(st); has {
		return fmt.Sprintf("not in the journal: unknown cid, or its events never reached the journal; the budget has evicted nothing (the oldest chain kept is from %s, %s ago) and chains expire after JOURNAL_TTL=%s",
			clock(oldest), human(now.Sub(oldest)), human(j.opt.TTL))
	}
	return fmt.Sprintf("not in the journal: the journal is empty (unknown cid, or its events never reached the journal; chains expire after JOURNAL_TTL=%s)", human(j.opt.TTL))
}

// oldestChain is when the oldest chain kept was written: the creation of
// the oldest chain segment.
func oldestChain(st *state) (time.Time, bool) {
	var oldest int64
	for _, t := range chainTiers {
		if segs := st.segs[t]; len(segs) > 0 && (oldest == 0 || segs[0].id < oldest) {
			oldest = segs[0].id
		}
	}
	return time.UnixMilli(oldest), oldest != 0
}

func (j *Journal) evictions(ctx context.Context) ([]eviction, error) {
	vals, err := j.c.LRange(ctx, j.ks.JournalEvicted(), 0, -1).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("journal: read evictions: %w", err)
	}
	out := make([]eviction, 0, len(vals))
	for _, v := range vals {
		var e eviction
		if json.Unmarshal([]byte(v), &e) == nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// DebugUser puts a user in debug mode for the journal for d
// (DefaultDebugSpan when d is 0; d < 0 ends it): every chain of the user
// is kept in full and evicted last. Every instance follows within a
// second. It returns when debug mode ends.
func (j *Journal) DebugUser(ctx context.Context, userID int64, d time.Duration) (time.Time, error) {
	if userID == 0 {
		return time.Time{}, errors.New("journal: debug mode needs a user id")
	}
	field := mDebug + strconv.FormatInt(userID, 10)
	if d < 0 {
		if err := j.c.HDel(ctx, j.ks.JournalMeta(), field).Err(); err != nil {
			return time.Time{}, fmt.Errorf("journal: end debug mode of user %d: %w", userID, err)
		}
		return time.Time{}, nil
	}
	if d == 0 {
		d = DefaultDebugSpan
	}
	until := j.now().Add(d).UTC().Truncate(time.Millisecond)
	if err := j.c.HSet(ctx, j.ks.JournalMeta(), field, until.UnixMilli()).Err(); err != nil {
		return time.Time{}, fmt.Errorf("journal: debug mode of user %d: %w", userID, err)
	}
	return until, nil
}

// clock writes a time for a sentence, in UTC.
func clock(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// human writes a duration for a sentence: 3h12m, 45m, 20s, 2d3h.
func human(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
		fallthrough
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return strconv.Itoa(h) + "h"
		}
		return strconv.Itoa(h) + "h" + strconv.Itoa(m) + "m"
	}
	days, h := int(d.Hours())/24, int(d.Hours())%24
	return strconv.Itoa(days) + "d" + strconv.Itoa(h) + "h"
}
