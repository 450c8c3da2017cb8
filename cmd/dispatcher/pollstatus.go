package main

import (
	"fmt"
	"io"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/inspect"
)

// writePoll writes the poll lease's line of status (nothing without one).
func writePoll(w io.Writer, p *inspect.PollStatus) {
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
