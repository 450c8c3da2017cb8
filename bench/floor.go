package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// floorStream is the stream the floor server and redis-benchmark append to.
const floorStream = "floor:stream"

// runFloor is the floor: a minimal net/http server that answers each POST
// with one XADD of the body (field "payload") to one stream, with the same
// go-redis client the service uses, default options. It serves until
// SIGTERM.
func runFloor(args []string) int {
	fs := flag.NewFlagSet("floor", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	url := fs.String("redis", "", "redis URL")
	_ = fs.Parse(args)
	opt, err := redis.ParseURL(*url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		return 2
	}
	c := redis.NewClient(opt)
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
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		return 1
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	fmt.Println("listening", ln.Addr())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return 1
	}
	return 0
}
