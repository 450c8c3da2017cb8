package inspect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Errors of Replay and Drop, inside an *IDError.
var (
	// ErrBadID: the text is not a dead-letter id (SHARD/STREAM-ID or
	// STREAM-ID) or names a shard that does not exist.
	ErrBadID = errors.New("inspect: not a dead-letter id")
	// ErrNoDeadLetter: no shard has a dead letter with that id.
	ErrNoDeadLetter = errors.New("inspect: no such dead letter")
)

// IDError says why one dead-letter id was not replayed or dropped. It
// matches ErrBadID or ErrNoDeadLetter with errors.Is.
type IDError struct {
	ID     string // the id as given
	Reason string // for a person, naming the id
	err    error
}

func (e *IDError) Error() string { return e.Reason }
func (e *IDError) Unwrap() error { return e.err }

// DeadLetter is one dead letter as `dlq list --json` prints it and the ops
// page lists it. Its ID is SHARD/STREAM-ID, the form Replay and Drop take.
type DeadLetter struct {
	ID         string    `json:"id"`
	Shard      int       `json:"shard"`
	CID        string    `json:"cid"`
	UpdateID   int64     `json:"update_id"`
	UpdateType string    `json:"update_type"`
	ChatID     int64     `json:"chat_id,omitempty"`
	UserID     int64     `json:"user_id,omitempty"`
	At         time.Time `json:"at"`
	Reason     string    `json:"reason"`
	ErrorType  string    `json:"error_type,omitempty"`
	Error      string    `json:"error,omitempty"`
	Deliveries int64     `json:"deliveries"`
	By         string    `json:"by,omitempty"`
}

// DeadLetters lists up to limit dead letters per shard, shard by shard,
// oldest first.
func (in *Inspector) DeadLetters(ctx context.Context, limit int64) ([]DeadLetter, error) {
	out := []DeadLetter{}
	shards, err := in.ShardCount(ctx)
	if err != nil {
		return out, err
	}
	for n := 0; n < shards; n++ {
		dls, err := in.c.Queue.DLQList(ctx, n, limit)
		if err != nil {
			return out, err
		}
		for _, d := range dls {
			errType, errText := errorTypeOf(d.ErrorType, d.Error)
			out = append(out, DeadLetter{ID: strconv.Itoa(n) + "/" + d.ID, Shard: n, CID: d.Envelope.CID,
				UpdateID: d.Envelope.UpdateID, UpdateType: d.Envelope.Type, ChatID: d.Envelope.ChatID,
				UserID: d.Envelope.UserID, At: d.At, Reason: d.Reason, ErrorType: errType,
				Error: errText, Deliveries: d.Deliveries, By: d.By})
		}
	}
	return out, nil
}

// errorTypeOf returns a dead letter's error type from the closed set of
// docs/telemetry.md. A dead letter written by an older release may hold a
// Go type name (*fmt.wrapError): it is shown as HANDLER_ERROR with that name
// kept in front of the text.
func errorTypeOf(typ, text string) (string, string) {
	if typ == "" || telemetry.ErrorType(typ).Known() {
		return typ, text
	}
	return string(telemetry.ErrTypeHandler), "(" + typ + ") " + text
}

// Replay puts the named dead letters back on their streams (a replayed
// update keeps its cid; its delivery count starts afresh) and returns how
// many it replayed. It stops at the first id it cannot use (*IDError).
func (in *Inspector) Replay(ctx context.Context, ids ...string) (int, error) {
	return in.each(ctx, ids, in.c.Queue.DLQReplay)
}

// ReplayAll replays every dead letter of every shard.
func (in *Inspector) ReplayAll(ctx context.Context) (int, error) {
	shards, err := in.ShardCount(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for n := 0; n < shards; n++ {
		k, err := in.c.Queue.DLQReplayAll(ctx, n)
		total += k
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Drop deletes the named dead letters for good and returns how many it
// dropped. It stops at the first id it cannot use (*IDError).
func (in *Inspector) Drop(ctx context.Context, ids ...string) (int, error) {
	return in.each(ctx, ids, in.c.Queue.DLQDrop)
}

type dlqOp func(ctx context.Context, shard int, ids ...string) (int, error)

// each applies op to ids: SHARD/ID, or a bare ID tried on every shard.
func (in *Inspector) each(ctx context.Context, ids []string, op dlqOp) (int, error) {
	count, err := in.ShardCount(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, raw := range ids {
		shards, id, err := parseID(raw, count)
		if err != nil {
			return total, err
		}
		found := 0
		for _, n := range shards {
			k, err := op(ctx, n, id)
			if errors.Is(err, queue.ErrBadID) {
				return total, &IDError{ID: raw, err: ErrBadID,
					Reason: fmt.Sprintf("%q is not a dead-letter id (SHARD/ID or ID, as dlq list prints)", raw)}
			}
			if err != nil {
				return total, err
			}
			found += k
		}
		if found == 0 {
			return total, &IDError{ID: raw, err: ErrNoDeadLetter, Reason: "no dead letter " + raw}
		}
		total += found
	}
	return total, nil
}

func parseID(raw string, count int) ([]int, string, error) {
	if count < 1 {
		return nil, "", &IDError{ID: raw, err: ErrNoDeadLetter,
			Reason: "no dead letter " + raw + ": no shard count is recorded yet"}
	}
	if i := strings.IndexByte(raw, '/'); i >= 0 {
		n, err := strconv.Atoi(raw[:i])
		if err != nil || n < 0 || n >= count {
			return nil, "", &IDError{ID: raw, err: ErrBadID, Reason: fmt.Sprintf("%q: shard must be 0..%d", raw, count-1)}
		}
		return []int{n}, raw[i+1:], nil
	}
	all := make([]int, count)
	for i := range all {
		all[i] = i
	}
	return all, raw, nil
}
