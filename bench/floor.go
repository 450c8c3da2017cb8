package main

import (
	"io"
	"net/http"

	"github.com/redis/go-redis/v9"
)

// floorStream is the stream the floor server and redis-benchmark append to.
const floorStream = "floor:stream"

// runFloor is the floor: a minimal net/http server that answers each POST
// with one XADD of the body (field "payload") to one stream, with the same
// go-redis client the service uses, default options. It serves until
// SIGTERM.
func runFloor(args []string) int {
	addr, c, ok := floorFlags("floor", args)
	if !ok {
		return 2
	}
	defer c.Close()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if err := c.XAdd(r.Context(), &redis.XAddArgs{Stream: floorStream, Values: []any{"payload", body}}).Err(); err != nil {
			http.Error(w, "redis: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	return serveUntilSignal("floor", addr, h)
}
