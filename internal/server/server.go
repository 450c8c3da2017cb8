// Package server wires one dispatcher instance together: Redis client,
// telemetry, instance registry, per-shard leases, workers, the bot, the
// webhook and the ops endpoints.
//
// Run owns every goroutine it starts and stops them in the documented order
// (docs/design.md): stop intake, drain the workers (acks still fenced by a
// live lease), release the leases so a PASSIVE instance takes over at once,
// leave the registry, flush the logs.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/botproxy"
	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/debugflag"
	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/forward"
	"github.com/dispatcher-bot/dispatcher/internal/ingest"
	"github.com/dispatcher-bot/dispatcher/internal/inspect"
	"github.com/dispatcher-bot/dispatcher/internal/journal"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/membership"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/opsweb"
	"github.com/dispatcher-bot/dispatcher/internal/poll"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
	"github.com/dispatcher-bot/dispatcher/internal/version"
	"github.com/dispatcher-bot/dispatcher/internal/worker"
)

// Server is one instance. Create it with New, run it with Run (once).
type Server struct {
	cfg     config.Config
	log     *telemetry.Logger
	redis   *redisx.Client
	keys    keys.Space
	metrics *metrics.Metrics
	journal *journal.Journal
	jredis  *redisx.Client // the journal's client; closed by Run when jown
	jown    bool
	debug   *debugflag.Flag
	queue   *queue.Queue
	batch   *queue.Batcher // group commit of the webhook's appends
	pool    *worker.Pool
	leases  *lease.Manager
	// answerCallback answers the callbacks the pool dead-letters without a
	// dispatch (worker.Config.AnswerCallback); set by newBot.
	answerCallback func(ctx context.Context, queryID, text string) error
	balance        *membership.Balancer // nil with SHARDS=1
	registry       *membership.Registry
	ingest         *ingest.Handler
	poller         *poll.Poller // INGEST=poll; nil with the webhook
	ops            *opsweb.Handler
	webhook        http.Handler // the instrumented ingest handler
	sandbox        *fakebot.Server
	ident          identity // the bot as getMe described it (deployment.go)
	// forward mode (UPSTREAM_URL): nil otherwise; see forward.go
	forwarder *forward.Forwarder
	proxy     *botproxy.Proxy
	listener  net.Listener
	http      *http.Server
	// opsListener and opsHTTP serve the ops endpoints and sandbox routes on
	// OPS_LISTEN_ADDR; nil when it is unset (listener serves everything).
	opsListener net.Listener
	opsHTTP     *http.Server

	opts Options

	redisOK  atomic.Bool // last Redis health check succeeded
	stopping atomic.Bool
	started  time.Time
}

// NewWith builds an instance from a validated configuration running the
// bot of opts (the public API's dispatcher.New); logs go to out. It binds
// LISTEN_ADDR (so a port in use is reported at once) but starts nothing
// else. opts.Bot builds the handler every update is dispatched
// to from the instance's parts; it is required (internal/refbot.Bot is
// the reference bot).
func NewWith(cfg config.Config, out io.Writer, opts Options) (*Server, error) {
	if err := cfg.CheckSandbox(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, keys: keys.New(cfg.Namespace), started: time.Now(), opts: opts}
	s.metrics = metrics.NewWith(prometheus.NewRegistry(), metrics.Options{Namespace: cfg.Namespace,
		Instance: cfg.InstanceID, Version: version.Version(), Commit: version.Commit(), Shards: cfg.Shards, ShardLabels: cfg.MetricsShardLabels,
		UpdateTypes: update.Types(), WebhookReasons: ingest.ReasonNames(), ErrorTypes: telemetry.ErrorTypeNames()})

	rc, err := redisx.New(&cfg)
	if err != nil {
		return nil, err
	}
	s.redis = rc

	if s.jredis, s.jown, err = redisx.NewJournal(&cfg, rc); err != nil {
		rc.Close()
		return nil, err
	}
	lvl, _ := zapcore.ParseLevel(cfg.LogLevel)
	s.journal = journal.New(journal.Options{Client: s.jredis, Keys: s.keys, MaxMemory: cfg.JournalMaxMemory,
		TTL: cfg.JournalTTL, Metrics: s.metrics})
	var sink telemetry.Sink = s.journal
	if opts.NoJournal {
		sink = nil
	}
	log, err := telemetry.New(telemetry.Options{Format: cfg.LogFormat, Level: lvl, Instance: cfg.InstanceID,
		Secrets: cfg.Secrets(), Output: out, Sink: sink})
	if err != nil {
		s.closeRedis()
		return nil, err
	}
	s.log = log
	s.journal.SetLogger(log)
	telemetry.RouteRedisLogs(log)
	s.debug = debugflag.New(rc, s.keys, log)

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		s.closeRedis()
		return nil, fmt.Errorf("server: listen on LISTEN_ADDR %s: %w", cfg.ListenAddr, err)
	}
	s.listener = ln
	if cfg.OpsListenAddr != "" {
		if s.opsListener, err = net.Listen("tcp", cfg.OpsListenAddr); err != nil {
			ln.Close()
			s.closeRedis()
			return nil, fmt.Errorf("server: listen on OPS_LISTEN_ADDR %s: %w", cfg.OpsListenAddr, err)
		}
		ln = closeBoth{ln, s.opsListener} // the error paths below close both
	}

	s.queue = queue.New(rc, s.keys, queue.Options{Shards: cfg.Shards, MaxBacklog: cfg.MaxBacklog,
		DedupeWindow: cfg.DedupeWindow, WaitReplicas: cfg.RedisWaitReplicas, WaitTimeout: cfg.RedisWaitTimeout, Log: log})
	// group commit of the webhook's appends; closed by closeRedis, after
	// the HTTP server has stopped (or on the error paths below)
	s.batch = queue.NewBatcher(s.queue, queue.BatchOptions{Timeout: ingest.EnqueueTimeout})
	s.ingest = ingest.New(ingest.Config{Queue: s.queue, Batcher: s.batch, Log: log, Metrics: s.metrics,
		Secret: cfg.WebhookSecret, Instance: cfg.InstanceID})
	s.ingest.Hold(telemetry.ReasonRedisUnavailable, "Redis has not answered since the start") // until Run's start checks passed

	var faults Faults
	spec := os.Getenv("DISPATCHER_FAULTS")
	if spec != "" {
		if faults, err = ParseFaults(spec); err != nil {
			ln.Close()
			s.closeRedis()
			return nil, &config.Error{Var: "DISPATCHER_FAULTS", Reason: err.Error()}
		}
	}
	handler, err := s.newHandler(faults)
	if err != nil {
		ln.Close()
		s.closeRedis()
		return nil, err
	}
	if spec != "" {
		handler = faults.Wrap(handler)
		log.Service(zapcore.WarnLevel, telemetry.EvServiceStarting, "DISPATCHER_FAULTS is set: faults are injected into dispatches (testing only)",
			zap.String("faults", spec))
	}
	s.pool, err = worker.New(worker.Config{Queue: s.queue, Handler: handler, Leadership: leadership{s}, Log: log, Metrics: s.metrics,
		Instance: cfg.InstanceID, Workers: cfg.Workers, MaxDeliveries: cfg.MaxDeliveries,
		HandlerTimeout: cfg.HandlerTimeout, LeaseEndGrace: LeaseEndGrace(cfg.LeaseTTL), Live: s.liveInstances,
		AnswerCallback: s.answerCallback})
	if err != nil {
		ln.Close()
		s.closeRedis()
		return nil, err
	}
	s.registry = membership.NewRegistry(rc, s.keys, cfg.InstanceID, cfg.LeaseTTL, s.instanceInfo, log)
	if s.poller, err = s.newPoller(); err != nil {
		ln.Close()
		s.closeRedis()
		return nil, err
	}
	var want func(int) bool
	if cfg.Shards > 1 {
		// live instances share the shards: at most ceil(SHARDS / live) each
		s.balance = membership.NewBalancer(rc, s.keys, cfg.InstanceID, cfg.Shards, cfg.LeaseTTL, log)
		want = s.balance.Want
	}
	s.leases, err = lease.NewManager(lease.Config{Client: rc, Keys: s.keys, Shards: cfg.Shards,
		Instance: cfg.InstanceID, Owner: s.registry.Owner(), TTL: cfg.LeaseTTL, Log: log, Metrics: s.metrics,
		OnStarted: s.pool.RunShard, Drain: cfg.ShutdownTimeout, Want: want})
	if err != nil {
		ln.Close()
		s.closeRedis()
		return nil, err
	}
	s.registry.BeatOnChange(s.leases.Changed)
	if s.balance != nil {
		s.balance.Track(s.leases)
	}
	log.SetRole(func() string {
		if s.leases.Active() {
			return telemetry.RoleActive
		}
		return telemetry.RolePassive
	})
	s.ops, err = opsweb.New(opsweb.Config{Inspector: inspect.ForConfig(&cfg, rc, s.queue, s.journal), Debug: s.debug,
		Log: log, Token: cfg.OpsToken, Open: cfg.Sandbox, Instance: cfg.InstanceID, LeaseTTL: cfg.LeaseTTL})
	if err != nil {
		ln.Close()
		s.closeRedis()
		return nil, err
	}
	s.webhook = s.metrics.InstrumentWebhook(s.ingest)
	s.http = &http.Server{Handler: s.routes(), MaxHeaderBytes: MaxHeaderBytes, ErrorLog: zap.NewStdLog(log.Zap())}
	if s.opsListener != nil {
		s.opsHTTP = &http.Server{Handler: s.opsRoutes(http.NewServeMux()), MaxHeaderBytes: MaxHeaderBytes,
			ErrorLog: zap.NewStdLog(log.Zap())}
	}
	s.SetHTTPTimeouts(DefaultHTTPTimeouts())
	return s, nil
}

// Journal is the instance's event journal (the benchmark flushes it).
func (s *Server) Journal() *journal.Journal { return s.journal }

// closeRedis stops the ingest batcher and closes the Redis clients (the
// journal's when it is its own).
func (s *Server) closeRedis() {
	if s.batch != nil {
		s.batch.Close()
	}
	if s.jown {
		s.jredis.Close()
	}
	s.redis.Close()
}

// LeaseEndGrace is how long, after a shard's leadership ended, the worker
// still waits for a handler that ignores its context before abandoning it:
// LEASE_TTL/6. A holder steps down 2/3 of the TTL after its last good
// renewal was sent and the lease cannot expire in Redis before the whole
// TTL, so every handler of the term has returned or been abandoned at 5/6
// of the TTL, before any successor can win the lease (docs/leader-election.md).
func LeaseEndGrace(leaseTTL time.Duration) time.Duration { return leaseTTL / 6 }

// liveInstances tells which of ids have a live heartbeat (one EXISTS
// each, pipelined: no SCAN).
func (s *Server) liveInstances(ctx context.Context, ids []string) (map[string]bool, error) {
	cmds := make([]*redis.IntCmd, len(ids))
	_, err := s.redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Exists(ctx, s.keys.Instance(id))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	live := make(map[string]bool, len(ids))
	for i, id := range ids {
		live[id] = cmds[i].Val() > 0
	}
	return live, nil
}

// MaxHeaderBytes bounds a request's header block; a larger one is answered
// 431 by net/http before it reaches a handler.
const MaxHeaderBytes = 64 << 10

// HTTPTimeouts bound how long one client may hold a connection: reading
// the request's headers, reading the whole request (headers and body),
// writing the answer, and waiting idle between keep-alive requests. A
// client too slow with its headers has its connection closed without an
// answer; one too slow with its body gets 400 (BAD_PAYLOAD) from the
// webhook.
type HTTPTimeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
}

// DefaultHTTPTimeouts are the timeouts of every instance: 5 s for the
// headers, 30 s for the whole request and for the answer, 120 s idle.
func DefaultHTTPTimeouts() HTTPTimeouts {
	return HTTPTimeouts{ReadHeader: 5 * time.Second, Read: 30 * time.Second, Write: 30 * time.Second, Idle: 120 * time.Second}
}

// SetHTTPTimeouts replaces the HTTP server's timeouts; call it before Run.
// Tests use short ones to see slow clients cut off.
func (s *Server) SetHTTPTimeouts(t HTTPTimeouts) {
	for _, h := range []*http.Server{s.http, s.opsHTTP} {
		if h != nil {
			h.ReadHeaderTimeout, h.ReadTimeout, h.WriteTimeout, h.IdleTimeout = t.ReadHeader, t.Read, t.Write, t.Idle
		}
	}
}

// Addr returns the address the instance listens on (LISTEN_ADDR).
func (s *Server) Addr() string { return s.listener.Addr().String() }

// OpsAddr returns the address of the ops endpoints: OPS_LISTEN_ADDR's
// when it is set, else Addr.
func (s *Server) OpsAddr() string {
	if s.opsListener != nil {
		return s.opsListener.Addr().String()
	}
	return s.Addr()
}

// closeBoth closes the ops listener with the main one (New's error paths).
type closeBoth struct {
	net.Listener
	ops net.Listener
}

func (c closeBoth) Close() error { return errors.Join(c.Listener.Close(), c.ops.Close()) }

// Run serves until ctx is cancelled, then shuts down gracefully within
// SHUTDOWN_TIMEOUT. It returns nil after a graceful stop.
func (s *Server) Run(ctx context.Context) error {
	defer s.closeRedis()
	s.announce()

	httpErr := make(chan error, 2)
	go func() { httpErr <- s.http.Serve(s.listener) }()
	if s.opsHTTP != nil {
		go func() { httpErr <- s.opsHTTP.Serve(s.opsListener) }()
	}

	// Until Redis answers, /readyz says 503; until the start checks below
	// passed, the webhook answers 503 STARTING.
	if err := s.waitRedis(ctx); err != nil {
		s.shutdownHTTP()
		if errors.Is(err, config.ErrInvalid) {
			return err // Redis refuses this configuration: exit 2
		}
		return nil // cancelled before Redis ever answered: a clean stop
	}
	s.ingest.Hold(telemetry.ReasonStarting, "starting: the start checks have not passed yet")
	if err := s.checkDeployment(ctx); err != nil { // before checkShards: see internal/deployment
		s.shutdownHTTP()
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := s.checkShards(ctx); err != nil {
		s.shutdownHTTP()
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := s.registry.Register(ctx); err != nil {
		s.shutdownHTTP()
		if errors.Is(err, membership.ErrDuplicateInstance) {
			return fmt.Errorf("INSTANCE_ID: %w", err)
		}
		if perr := redisx.PermanentError(&s.cfg, err); perr != nil {
			return perr
		}
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s.ingest.Open()

	// background components, each stopped by cancelling its context
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() { defer wg.Done(); _ = f(bg) }()
	}
	if !s.opts.NoJournal {
		run(s.journal.Run)
	}
	run(s.debug.Run)
	takenOver := make(chan error, 1)
	run(func(ctx context.Context) error {
		if err := s.registry.Run(ctx); errors.Is(err, membership.ErrInstanceTakenOver) {
			takenOver <- err
		}
		return nil
	})
	run(s.healthLoop)
	run(s.formatLoop)
	run(s.statsLoop)
	run(s.runWebhookCheck)
	if s.forwarder != nil {
		run(s.forwarder.Run)
	}

	// the shard balance: joined before the first acquisition, left first
	// on the way out (so the others take over what this one releases)
	balanceCtx, stopBalance := context.WithCancel(context.Background())
	balanceDone := make(chan struct{})
	if s.balance != nil {
		_ = s.balance.Join(ctx) // a failure is logged; the next refresh retries
		go func() { _ = s.balance.Run(balanceCtx); close(balanceDone) }()
	} else {
		close(balanceDone)
	}

	leaseCtx, stopLeases := context.WithCancel(context.Background())
	leasesDone := make(chan error, 1)
	go func() { leasesDone <- s.leases.Run(leaseCtx) }()
	stopPoller := s.runPoller()

	s.log.Service(zapcore.InfoLevel, telemetry.EvServiceReady, "ready", zap.String("addr", s.Addr()))

	var runErr error
	drainFor := s.cfg.ShutdownTimeout
	select {
	case <-ctx.Done():
	case err := <-httpErr:
		runErr = fmt.Errorf("server: http: %w", err)
	case err := <-leasesDone:
		runErr = fmt.Errorf("server: leases stopped: %w", err)
		leasesDone <- err
	case err := <-takenOver:
		// another process runs under this INSTANCE_ID: stop dispatching at
		// once (no drain: running handlers are cancelled, nothing in hand
		// is acknowledged), give back what is still ours, exit 1
		runErr = fmt.Errorf("INSTANCE_ID %s is now used by another live process, so this one stops dispatching and exits "+
			"(it was paused or cut off from Redis for longer than LEASE_TTL and was replaced; give every instance its own INSTANCE_ID): %w",
			s.cfg.InstanceID, err)
		s.log.Service(zapcore.ErrorLevel, telemetry.EvServiceStopping, runErr.Error())
		drainFor = 0
	}

	// 1. stop intake; leave the shard balance, so that the others count one
	// instance fewer and take the shards released in step 3 at once
	s.stopping.Store(true)
	s.ingest.Stop()
	stopPoller() // releases the poll lease: another instance polls at once
	stopBalance()
	<-balanceDone
	s.log.Service(zapcore.InfoLevel, telemetry.EvServiceStopping, "draining",
		zap.Duration("shutdown_timeout", drainFor))
	// 2. drain the workers while the leases are still held (acks are fenced)
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), drainFor)
	if err := s.pool.Drain(drainCtx); err != nil {
		s.log.Service(zapcore.WarnLevel, telemetry.EvServiceStopping, "drain incomplete: unfinished updates stay pending for the successor", zap.Error(err))
	}
	cancelDrain()
	// 3. release the leases (the manager publishes the release)
	stopLeases()
	<-leasesDone
	s.pool.Close()
	// 4. leave the registry, stop the background loops, flush the journal
	stopBG()
	wg.Wait()
	s.shutdownHTTP()
	s.log.Service(zapcore.InfoLevel, telemetry.EvServiceStopped, "stopped")
	s.log.Sync()
	return runErr
}

func (s *Server) announce() {
	mode := "Redis " + s.redis.Mode
	if s.redis.Embedded != nil {
		s.log.Service(zapcore.WarnLevel, telemetry.EvServiceStarting,
			"embedded in-process Redis: serves this one instance only and keeps nothing across restarts; set REDIS_URL for production")
	}
	if s.cfg.Sandbox {
		msg := "sandbox mode: no real Telegram; what the bot sends is recorded at GET /sandbox/messages"
		if s.poller != nil {
			msg += "; INGEST=poll: POST an update to /sandbox/updates and getUpdates returns it"
		}
		if len(s.cfg.AdminIDs) == 0 {
			msg += fmt.Sprintf("; user %d may use /debug (ADMIN_IDS is unset)", config.SandboxAdminID)
		}
		if s.redis.Embedded != nil {
			msg += "; dispatcher status, trace and dlq on this machine read the embedded Redis (GET " + SandboxRedisPath + ")"
		}
		s.log.Service(zapcore.WarnLevel, telemetry.EvServiceStarting, msg)
	}
	if s.insecureAdmin() {
		debug := "so /debug is refused (FORBIDDEN) to everyone until WEBHOOK_SECRET is set (ALLOW_INSECURE_ADMIN=true serves it anyway)"
		if s.cfg.AllowInsecureAdmin {
			debug = "and ALLOW_INSECURE_ADMIN=true serves /debug anyway: such a forged update can read any user's chains"
		}
		s.log.Service(zapcore.WarnLevel, telemetry.EvServiceStarting,
			"INSECURE_WEBHOOK=true: the webhook accepts requests without a secret token, so anyone who can reach it "+
				"can post forged updates with any user's from.id (an admin's too) and their own chat, and read other "+
				"users' chains with /debug USER_ID; "+debug)
	}
	webhook := "http://" + localAddr(s.listener.Addr()) + s.cfg.WebhookPath
	if s.poller != nil {
		webhook = "none (INGEST=poll)"
	}
	s.log.Service(zapcore.InfoLevel, telemetry.EvServiceStarting, "starting",
		zap.String("addr", s.Addr()), zap.String("ops_addr", s.OpsAddr()), zap.String("webhook", webhook),
		zap.String("redis", mode), zap.Bool("sandbox", s.cfg.Sandbox), zap.Int("shards", s.cfg.Shards),
		zap.Int("workers", s.cfg.Workers), zap.Duration("lease_ttl", s.cfg.LeaseTTL), zap.String("ingest", s.cfg.Ingest))
}

// localAddr is addr as a person on this machine reaches it: localhost for
// a listener on every interface.
func localAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
}

// checkShards records SHARDS as the namespace's shard count, or checks it
// against the one the first instance recorded: a different count is a
// configuration error (exit 2) naming both. Redis failures are retried
// until ctx ends.
func (s *Server) checkShards(ctx context.Context) error {
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
		rec, err := queue.RecordShards(ctx, s.redis, s.keys, s.cfg.Shards)
		switch {
		case err == nil && rec == s.cfg.Shards:
			return nil
		case err == nil:
			return &config.Error{Var: "SHARDS", Reason: fmt.Sprintf("this instance has %d, but namespace %s records %d (set by its first instance, key %s); "+
				"every instance of a namespace must use the same SHARDS: start this one with SHARDS=%d",
				s.cfg.Shards, s.cfg.Namespace, rec, s.keys.Shards(), rec)}
		case !errors.Is(err, queue.ErrUnavailable):
			return err
		}
		s.log.Service(zapcore.WarnLevel, telemetry.EvRedisError, "could not check the recorded shard count; retrying",
			zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)), zap.Error(err))
		if err := sleepCtx(ctx, backoff); err != nil {
			return err
		}
	}
}

// sleepCtx waits d, or returns ctx's error when it ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// healthLoop keeps redisOK current for /readyz.
func (s *Server) healthLoop(ctx context.Context) error {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		err := redisx.Ping(ctx, s.redis, 400*time.Millisecond)
		if ok := err == nil; ok != s.redisOK.Swap(ok) && ctx.Err() == nil {
			if ok {
				s.log.Service(zapcore.InfoLevel, telemetry.EvRedisError, "redis reachable again")
			} else {
				s.log.Service(zapcore.WarnLevel, telemetry.EvRedisError, "redis unreachable",
					zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)), zap.Error(err))
			}
		}
	}
}

func (s *Server) shutdownHTTP() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.http.Shutdown(ctx)
	if s.opsHTTP != nil {
		_ = s.opsHTTP.Shutdown(ctx)
	}
}
