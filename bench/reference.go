package main

import (
	"context"
	"errors"
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

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/ingest"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// The reference servers of the ingest section's ledger: each adds one
// part of what the dispatcher does to the one before it, between the floor
// (one XADD a request) and an instance as served, so that the report can
// say what each part costs on the webhook path.

// serveUntilSignal serves h on addr (loopback) until SIGTERM or an
// interrupt; it prints the address it listens on.
func serveUntilSignal(name, addr string, h http.Handler) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	fmt.Println("listening", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	return 0
}

// floorFlags parses the flags of the floor servers (-addr, -redis) and
// connects a go-redis client with default options; ok is false (the error
// printed) when the URL does not parse.
func floorFlags(name string, args []string) (addr string, c *redis.Client, ok bool) {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	a := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	url := fs.String("redis", "", "redis URL")
	_ = fs.Parse(args)
	opt, err := redis.ParseURL(*url)
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return "", nil, false
	}
	return *a, redis.NewClient(opt), true
}

// groupFloor is the floor with group commit and nothing else: the bodies of
// concurrent requests are appended by one pipeline of XADDs (to the
// floor's stream, field "payload"), each request answered when that
// pipeline's replies are back. Each goroutine of run has at most one
// pipeline under way, of at most maxBatch appends: what queued meanwhile
// goes in the next one, so a lone request waits for nobody.
type groupFloor struct {
	c        *redis.Client
	calls    chan *floorCall
	maxBatch int
}

type floorCall struct {
	body []byte
	done chan error
}

func (g *groupFloor) run(ctx context.Context) {
	batch := make([]*floorCall, 0, g.maxBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-g.calls:
			batch = append(batch[:0], c)
		}
	more:
		for len(batch) < g.maxBatch {
			select {
			case c := <-g.calls:
				batch = append(batch, c)
			default:
				break more
			}
		}
		p := g.c.Pipeline()
		for _, c := range batch {
			p.XAdd(ctx, &redis.XAddArgs{Stream: floorStream, Values: []any{"payload", c.body}})
		}
		cmds, err := p.Exec(ctx)
		for i, c := range batch {
			e := err
			if i < len(cmds) {
				e = cmds[i].Err()
			}
			c.done <- e
		}
	}
}

func (g *groupFloor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	c := &floorCall{body: body, done: make(chan error, 1)}
	select {
	case g.calls <- c:
	case <-r.Context().Done():
		return
	}
	if err := <-c.done; err != nil {
		http.Error(w, "redis: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
}

// runGroupFloor serves groupFloor until SIGTERM.
func runGroupFloor(args []string) int {
	addr, c, ok := floorFlags("groupfloor", args)
	if !ok {
		return 2
	}
	defer c.Close()
	// as many pipelines under way and as large as queue.Batcher's defaults
	g := &groupFloor{c: c, calls: make(chan *floorCall, 1024), maxBatch: 64}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 2 {
		go g.run(ctx)
	}
	return serveUntilSignal("groupfloor", addr, g)
}

// runQueueLayer serves the dispatcher's webhook handler with its queue and
// nothing else: ingest.Handler (secret check, update.Scan, cid, shard) and
// queue.Batcher with the enqueue script (dedupe marker, backlog check,
// append), as an instance builds them with config defaults, but with a
// logger that writes nothing (no event lines, no journal) and metrics no
// one scrapes. It writes the stream format an instance writes when every
// live instance reads it.
func runQueueLayer(args []string) int {
	fs := flag.NewFlagSet("queuelayer", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	url := fs.String("redis", "", "redis URL")
	ns := fs.String("ns", "bl", "namespace")
	_ = fs.Parse(args)
	cfg := config.Default()
	cfg.RedisURL, cfg.Namespace = *url, *ns
	rc, err := redisx.New(&cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "queuelayer:", err)
		return 1
	}
	defer rc.Close()
	q := queue.New(rc, keys.New(cfg.Namespace), queue.Options{Shards: cfg.Shards, MaxBacklog: cfg.MaxBacklog,
		DedupeWindow: cfg.DedupeWindow, WaitReplicas: cfg.RedisWaitReplicas, WaitTimeout: cfg.RedisWaitTimeout, Log: telemetry.Nop()})
	q.SetFormat(queue.LatestFormat)
	b := queue.NewBatcher(q, queue.BatchOptions{Timeout: ingest.EnqueueTimeout})
	defer b.Close()
	h := ingest.New(ingest.Config{Queue: q, Batcher: b, Log: telemetry.Nop(), Metrics: metrics.NewTest(),
		Secret: benchSecret, Instance: "bench-queue-layer"})
	mux := http.NewServeMux()
	mux.Handle("/webhook", h)
	return serveUntilSignal("queuelayer", *addr, mux)
}
