package inspect

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
)

// PollStatus is the poll lease (INGEST=poll) in Status: who polls, and the
// next getUpdates offset, below which every update is on a stream.
type PollStatus struct {
	Holder     string  `json:"holder"` // "" when nobody polls now
	Token      int64   `json:"token"`
	TTLSeconds float64 `json:"ttl_seconds"`
	Offset     int64   `json:"offset"` // 0: none stored yet
}

// poll reads the poll lease and offset; nil when the namespace has never
// been polled (INGEST=webhook).
func (in *Inspector) poll(ctx context.Context) (*PollStatus, error) {
	li, err := lease.Inspect(ctx, in.c.Redis, in.c.Keys.Poll(), 0)
	if err != nil {
		return nil, err
	}
	offset, err := in.c.Redis.Get(ctx, in.c.Keys.PollOffset()).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	if !li.Held && offset == 0 {
		return nil, nil
	}
	p := &PollStatus{Offset: offset}
	if li.Held {
		p.Holder, p.Token, p.TTLSeconds = li.Holder, li.Token, li.TTL.Seconds()
	}
	return p, nil
}
