package queue

import (
	"context"
	"strconv"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
)

// Ack acknowledges entries ids of shard (one or more) and deletes them
// from the stream, in one fenced script: with a stale token it returns an
// error matching lease.ErrFenced and the entries stay pending.
// Acknowledging an entry that is already gone is not an error.
func (q *Queue) Ack(ctx context.Context, shard int, token int64, ids ...string) error {
	k, err := q.shard(shard)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, 1+len(ids))
	args = append(args, keys.Group)
	for _, id := range ids {
		args = append(args, id)
	}
	return mapErr(ctx, ackScript.Run(ctx, q.c, k, token, []string{k.Stream()}, args...).Err())
}

// Failure describes why an entry is dead-lettered; it is stored with it.
type Failure struct {
	Reason     string // reason code: MAX_DELIVERIES, BAD_PAYLOAD
	ErrorType  string // last failure's type: HANDLER_PANIC, HANDLER_TIMEOUT, a Go type
	Error      string // last failure's text
	Deliveries int64  // deliveries made
	Instance   string // instance that dead-lettered it
}

// Dead-letter field names, beside the envelope's and stream_id.
const (
	fStreamID   = "stream_id"
	fReason     = "reason"
	fErrorType  = "error_type"
	fError      = "error"
	fDeliveries = "deliveries"
	fBy         = "dead_lettered_by"
)

// DeadLetter moves entry id of shard to the shard's dead-letter stream with
// its payload and f, then acknowledges and deletes it, in one fenced script
// (a stale token gets lease.ErrFenced and nothing moves). It returns the
// dead letter's id, "" when the entry was already gone.
func (q *Queue) DeadLetter(ctx context.Context, shard int, token int64, id string, f Failure) (string, error) {
	k, err := q.shard(shard)
	if err != nil {
		return "", err
	}
	dlq, err := deadLetterScript.Run(ctx, q.c, k, token, []string{k.Stream(), k.DLQ()}, keys.Group, id,
		fReason, f.Reason, fErrorType, f.ErrorType, fError, f.Error,
		fDeliveries, strconv.FormatInt(f.Deliveries, 10), fBy, f.Instance).Text()
	if err != nil {
		return "", mapErr(ctx, err)
	}
	return dlq, nil
}
