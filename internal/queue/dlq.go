package queue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// DeadLetter is one entry of a shard's dead-letter stream.
type DeadLetter struct {
	ID         string    // id in the dead-letter stream
	StreamID   string    // id the entry had in the shard stream
	At         time.Time // when it was dead-lettered
	Envelope   Envelope  // the update, payload included
	Reason     string    // reason code (MAX_DELIVERIES, BAD_PAYLOAD)
	ErrorType  string    // last failure's type
	Error      string    // last failure's text
	Deliveries int64
	By         string // instance that dead-lettered it
}

// DLQList returns up to count dead letters of shard, oldest first (count <= 0
// means 100).
func (q *Queue) DLQList(ctx context.Context, shard int, count int64) ([]DeadLetter, error) {
	k, err := q.shard(shard)
	if err != nil {
		return nil, err
	}
	if count <= 0 {
		count = 100
	}
	msgs, err := q.c.XRangeN(ctx, k.DLQ(), "-", "+", count).Result()
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	out := make([]DeadLetter, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, deadLetterOf(shard, m))
	}
	return out, nil
}

func deadLetterOf(shard int, m redis.XMessage) DeadLetter {
	kv := mapOf(m.Values)
	env, _ := decodeFields(shard, kv) // shown as far as it decodes
	n, _ := strconv.ParseInt(kv[fDeliveries], 10, 64)
	return DeadLetter{
		ID: m.ID, StreamID: kv[fStreamID], At: IDTime(m.ID), Envelope: env,
		Reason: kv[fReason], ErrorType: kv[fErrorType], Error: kv[fError], Deliveries: n, By: kv[fBy],
	}
}

// DLQReplay puts the named dead letters of shard back on the shard's stream
// as new entries (delivery count starting afresh) and deletes them from the
// dead-letter stream, one id at a time atomically. It ignores MaxBacklog
// and the dedupe markers. Ids that are not dead letters are skipped; replayed
// counts the others. With no ids it replays nothing (see DLQReplayAll).
func (q *Queue) DLQReplay(ctx context.Context, shard int, ids ...string) (replayed int, err error) {
	k, err := q.shard(shard)
	if err != nil {
		return 0, err
	}
	if err := checkIDs(ids); err != nil {
		return 0, err
	}
	for start := 0; start < len(ids); start += 100 {
		batch := ids[start:min(start+100, len(ids))]
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		sent := q.opts.Now()
		res, err := replayScript.Run(ctx, q.c, []string{k.DLQ(), k.Stream()}, args...).StringSlice()
		if err != nil {
			return replayed, mapErr(ctx, err)
		}
		for i := 0; i+3 < len(res); i += 4 {
			replayed++
			uid, _ := strconv.ParseInt(res[i+3], 10, 64)
			lctx := telemetry.WithUpdate(ctx, telemetry.Update{CID: res[i+2], UpdateID: uid, Shard: shard})
			q.opts.Log.DLQReplayed(lctx, sent, shard, res[i], res[i+1])
		}
	}
	return replayed, nil
}

// DLQReplayAll replays every dead letter of shard (what `dlq replay --all`
// does), oldest first, in batches.
func (q *Queue) DLQReplayAll(ctx context.Context, shard int) (replayed int, err error) {
	k, err := q.shard(shard)
	if err != nil {
		return 0, err
	}
	for {
		msgs, err := q.c.XRangeN(ctx, k.DLQ(), "-", "+", 100).Result()
		if err != nil {
			return replayed, mapErr(ctx, err)
		}
		if len(msgs) == 0 {
			return replayed, nil
		}
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
		}
		n, err := q.DLQReplay(ctx, shard, ids...)
		replayed += n
		if err != nil {
			return replayed, err
		}
		if n == 0 { // every one vanished under us (a concurrent drop): stop rather than spin
			return replayed, nil
		}
	}
}

// DLQDrop deletes the named dead letters of shard for good and returns how
// many existed. With no ids it drops nothing.
func (q *Queue) DLQDrop(ctx context.Context, shard int, ids ...string) (dropped int, err error) {
	k, err := q.shard(shard)
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if err := checkIDs(ids); err != nil {
		return 0, err
	}
	n, err := q.c.XDel(ctx, k.DLQ(), ids...).Result()
	if err != nil {
		return 0, mapErr(ctx, err)
	}
	return int(n), nil
}

// checkIDs refuses a malformed stream id before it reaches Redis.
func checkIDs(ids []string) error {
	for _, id := range ids {
		ms, seq, found := strings.Cut(id, "-")
		if !digits(ms) || (found && !digits(seq)) {
			return fmt.Errorf("%w: %q", ErrBadID, id)
		}
	}
	return nil
}

func digits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
