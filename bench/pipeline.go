package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/ingest"
	"github.com/dispatcher-bot/dispatcher/internal/journal"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
	"github.com/dispatcher-bot/dispatcher/internal/worker"
)

// benchSecret is the webhook secret of every instance the bench runs.
const benchSecret = "bench-webhook-secret-0123456789"

// PipelineOptions choose what an in-process pipeline runs.
type PipelineOptions struct {
	RedisURL  string
	Namespace string
	Instance  string
	Workers   int            // WORKERS; 0 = default 16
	Journal   bool           // the event journal in Redis, as the server runs it
	LogOut    io.Writer      // event lines (the server's stdout); nil = discarded
	Handler   worker.Handler // nil: no worker pool, no lease (ingest only)
}

// Pipeline is the service's own ingest-to-handler path wired the way
// internal/server wires it (same packages, same defaults from
// config.Default), without the HTTP server: Enqueue calls the webhook
// handler (ingest.Handler.ServeHTTP) directly.
type Pipeline struct {
	cfg     config.Config
	rc      *redisx.Client
	ks      keys.Space
	m       *metrics.Metrics
	log     *telemetry.Logger
	journal *journal.Journal
	q       *queue.Queue
	ing     *ingest.Handler
	pool    *worker.Pool
	leases  *lease.Manager

	bg     context.CancelFunc
	leaseC context.CancelFunc
	wg     sync.WaitGroup
}

func newPipeline(o PipelineOptions) (*Pipeline, error) {
	cfg := config.Default()
	cfg.RedisURL, cfg.Namespace, cfg.InstanceID, cfg.WebhookSecret = o.RedisURL, o.Namespace, o.Instance, benchSecret
	if o.Workers > 0 {
		cfg.Workers = o.Workers
	}
	rc, err := redisx.New(&cfg)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{cfg: cfg, rc: rc, ks: keys.New(cfg.Namespace), m: metrics.New(prometheus.NewRegistry())}
	out := o.LogOut
	if out == nil {
		out = io.Discard
	}
	lopts := telemetry.Options{Format: cfg.LogFormat, Level: zapcore.InfoLevel, Instance: cfg.InstanceID,
		Secrets: cfg.Secrets(), Output: out}
	if o.Journal {
		p.journal = journal.New(journal.Options{Client: rc, Keys: p.ks, MaxMemory: cfg.JournalMaxMemory,
			TTL: cfg.JournalTTL, Metrics: p.m})
		lopts.Sink = p.journal
	}
	if p.log, err = telemetry.New(lopts); err != nil {
		return nil, err
	}
	if p.journal != nil {
		p.journal.SetLogger(p.log)
	}
	p.q = queue.New(rc, p.ks, queue.Options{Shards: cfg.Shards, MaxBacklog: cfg.MaxBacklog, DedupeWindow: cfg.DedupeWindow})
	p.ing = ingest.New(ingest.Config{Queue: p.q, Log: p.log, Metrics: p.m, Secret: cfg.WebhookSecret, Instance: cfg.InstanceID})
	if o.Handler != nil {
		p.pool, err = worker.New(worker.Config{Queue: p.q, Handler: o.Handler, Leadership: leadershipOf{p}, Log: p.log,
			Metrics: p.m, Instance: cfg.InstanceID, Workers: cfg.Workers, MaxDeliveries: cfg.MaxDeliveries,
			HandlerTimeout: cfg.HandlerTimeout})
		if err != nil {
			return nil, err
		}
		p.leases, err = lease.NewManager(lease.Config{Client: rc, Keys: p.ks, Shards: cfg.Shards, Instance: cfg.InstanceID,
			TTL: cfg.LeaseTTL, Log: p.log, Metrics: p.m, OnStarted: p.pool.RunShard, Drain: cfg.ShutdownTimeout})
		if err != nil {
			return nil, err
		}
		p.log.SetRole(p.leases.Role)
	}
	bg, cancel := context.WithCancel(context.Background())
	p.bg = cancel
	if p.journal != nil {
		p.wg.Go(func() { _ = p.journal.Run(bg) })
	}
	return p, nil
}

type leadershipOf struct{ p *Pipeline }

func (l leadershipOf) Valid(shard int, token int64) bool { return l.p.leases.Valid(shard, token) }

// StartWorkers starts the lease manager (and so the pool) and waits until
// this pipeline is ACTIVE.
func (p *Pipeline) StartWorkers(timeout time.Duration) error {
	if p.leases == nil {
		return fmt.Errorf("pipeline built without a handler")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.leaseC = cancel
	p.wg.Go(func() { _ = p.leases.Run(ctx) })
	deadline := time.Now().Add(timeout)
	for !p.leases.Active() {
		if time.Now().After(deadline) {
			return fmt.Errorf("pipeline not ACTIVE within %s", timeout)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// Enqueue runs the webhook handler on one body, as if Telegram had posted
// it, and returns the status it answered.
func (p *Pipeline) Enqueue(body []byte) int {
	req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SecretHeader, benchSecret)
	w := httptest.NewRecorder()
	p.ing.ServeHTTP(w, req)
	return w.Code
}

// Backlog is the shard stream's length and pending count.
func (p *Pipeline) Backlog(ctx context.Context) (int64, int64, error) {
	st, err := p.q.Stats(ctx, 0)
	return st.Length, st.Pending, err
}

// Close stops the workers the way the server does (drain, then release
// the leases), then the journal, and closes the client.
func (p *Pipeline) Close() {
	if p.pool != nil && p.leaseC != nil {
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.ShutdownTimeout)
		_ = p.pool.Drain(ctx)
		cancel()
		p.leaseC()
	}
	p.bg()
	p.wg.Wait()
	if p.pool != nil {
		p.pool.Close()
	}
	p.rc.Close()
}

// noopHandler decodes nothing more and returns at once; n counts calls.
type noopHandler struct {
	done      chan struct{}
	n, target int64
	mu        sync.Mutex
}

func newNoop(target int64) *noopHandler {
	return &noopHandler{done: make(chan struct{}), target: target}
}

func (h *noopHandler) Handle(ctx context.Context, u *update.Update) error {
	h.mu.Lock()
	h.n++
	if h.n == h.target {
		close(h.done)
	}
	h.mu.Unlock()
	return nil
}
