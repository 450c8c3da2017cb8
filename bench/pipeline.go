package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	_ "github.com/dispatcher-bot/dispatcher" // builds instances for internal/seam
	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/journal"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/seam"
	"github.com/dispatcher-bot/dispatcher/internal/server"
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
	Handler   worker.Handler // nil: ingest only (the bench keeps the shard's lease)
}

// Pipeline is one whole instance built the way `dispatcher serve` builds
// it (dispatcher.New through internal/seam, config.Default's settings)
// around the bench's handler, with the shard's lease held by the bench
// until StartWorkers: the instance stays PASSIVE and only ingests until
// then. Enqueue calls the instance's webhook handler directly (no network).
type Pipeline struct {
	cfg     config.Config
	rc      *redisx.Client // the bench's own client (stats, pings)
	ks      keys.Space
	log     *telemetry.Logger
	journal *journal.Journal
	q       *queue.Queue
	webhook http.Handler
	inst    *seam.Built

	release func() // gives the bench's lease back (StartWorkers, Close)
	stop    context.CancelFunc
	done    chan error
	once    sync.Once
}

func newPipeline(o PipelineOptions) (*Pipeline, error) {
	cfg := config.Default()
	cfg.RedisURL, cfg.Namespace, cfg.InstanceID, cfg.WebhookSecret = o.RedisURL, o.Namespace, o.Instance, benchSecret
	cfg.ListenAddr, cfg.Sandbox = "127.0.0.1:0", true // the handlers never call the Bot API
	if o.Workers > 0 {
		cfg.Workers = o.Workers
	}
	rc, err := redisx.New(&cfg)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{cfg: cfg, rc: rc, ks: keys.New(cfg.Namespace), done: make(chan error, 1)}
	p.q = queue.New(rc, p.ks, queue.Options{Shards: cfg.Shards})
	if p.release, err = holdLease(rc, cfg.Namespace); err != nil {
		rc.Close()
		return nil, err
	}
	out := o.LogOut
	if out == nil {
		out = io.Discard
	}
	h := o.Handler
	if h == nil {
		h = worker.HandlerFunc(func(context.Context, *update.Update) error { return nil })
	}
	p.inst, err = seam.New(cfg, out, server.Options{NoJournal: !o.Journal, Bot: func(env *server.BotEnv) (worker.Handler, error) {
		p.log = env.Log
		return h, nil
	}})
	if err != nil {
		p.release()
		rc.Close()
		return nil, err
	}
	p.journal = p.inst.Server.Journal()
	p.webhook = p.inst.Server.Webhook()
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	go func() { p.done <- p.inst.Run(ctx) }()
	// PASSIVE: its lease loop runs (and hears the release StartWorkers
	// publishes)
	if _, err := p.waitReady(30*time.Second, "PASSIVE"); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// waitReady waits until /readyz answers 200 (and shard 0 has role, when
// role is set).
func (p *Pipeline) waitReady(timeout time.Duration, role string) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		w := httptest.NewRecorder()
		p.inst.HTTPHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var r server.Readiness
		_ = json.Unmarshal(w.Body.Bytes(), &r)
		if w.Code == http.StatusOK && (role == "" || r.Shards["0"].Role == role) {
			return r.Role, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("pipeline: instance not ready (%s) within %s: %d %s", role, timeout, w.Code, w.Body.String())
		}
		time.Sleep(time.Millisecond)
	}
}

// StartWorkers gives the shard's lease back, so that the instance takes it
// (at once: the release is published) and dispatches, and waits until it
// is ACTIVE.
func (p *Pipeline) StartWorkers(timeout time.Duration) error {
	p.once.Do(p.release)
	_, err := p.waitReady(timeout, "ACTIVE")
	return err
}

// Enqueue runs the webhook handler on one body, as if Telegram had posted
// it, and returns the status it answered.
func (p *Pipeline) Enqueue(body []byte) int {
	req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SecretHeader, benchSecret)
	w := httptest.NewRecorder()
	p.webhook.ServeHTTP(w, req)
	return w.Code
}

// Backlog is the shard stream's length and pending count.
func (p *Pipeline) Backlog(ctx context.Context) (int64, int64, error) {
	st, err := p.q.Stats(ctx, 0)
	return st.Length, st.Pending, err
}

// Close stops the instance the way SIGTERM does (drain, release the
// leases, flush the journal) and closes the bench's client.
func (p *Pipeline) Close() {
	p.stop()
	<-p.done
	p.done <- nil
	p.once.Do(p.release)
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
