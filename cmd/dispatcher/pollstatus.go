package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

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

// readPoll reads the poll lease and offset; nil when the namespace has
// never been polled (INGEST=webhook).
func readPoll(ctx context.Context, env *opsEnv) (*PollStatus, error) {
	li, err := lease.Inspect(ctx, env.redis, env.keys.Poll(), 0)
	if err != nil {
		return nil, err
	}
	offset, err := env.redis.Get(ctx, env.keys.PollOffset()).Int64()
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

func writePoll(w io.Writer, p *PollStatus) {
	if p == nil {
		return
	}
	who := "nobody polls now (the poll lease is free)"
	if p.Holder != "" {
		ttl := time.Duration(p.TTLSeconds * float64(time.Second)).Truncate(time.Millisecond)
		who = fmt.Sprintf("%s polls (token %d, TTL left %s)", p.Holder, p.Token, ttl)
	}
	fmt.Fprintf(w, "\npoll lease (INGEST=poll): %s; next getUpdates offset %d\n", who, p.Offset)
}
