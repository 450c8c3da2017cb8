package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/inspect"
	"github.com/dispatcher-bot/dispatcher/internal/journal"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/server"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// opsTimeout bounds one operator command's Redis work.
const opsTimeout = 30 * time.Second

// opsVars are the settings the operator commands take as flags too: where
// the Redis is and how its keys are laid out (the shard count is read from
// Redis, where the first instance recorded it). The others come from the
// environment only.
var opsVars = []string{"REDIS_URL", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS", "REDIS_SENTINEL_MASTER",
	"REDIS_NAMESPACE"}

// opsAbout is the part of the help of status, trace and dlq that says
// where they read.
const opsAbout = `Reads the Redis of REDIS_URL, REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS (or the flags below).
Without any, it reads the embedded Redis of the sandbox instance listening on LISTEN_ADDR
(default :8080), the one ` + "`make run`" + ` starts.`

// opsEnv is what the operator commands share: the configuration, a Redis
// client, the queue and the journal.
type opsEnv struct {
	cfg   config.Config
	redis *redisx.Client
	keys  keys.Space
	// shards is the shard count recorded in Redis by the namespace's first
	// instance, 0 when none is recorded yet. The commands read it, never
	// the SHARDS they were started with.
	shards int
	queue  *queue.Queue
	log    *telemetry.Logger
	jrnl   *journal.Journal
	// inspect reads what status, trace and dlq show (shared with the ops
	// page; it too reads the recorded shard count)
	inspect *inspect.Inspector
	stop    func()
}

// openOps connects to the Redis of c.cfg (or to the embedded Redis of the
// sandbox instance on LISTEN_ADDR when none is configured) and checks that
// it answers. Errors: a configuration error naming the variable when no
// Redis can be found or Redis refuses the configuration (exit 2), else
// REDIS_UNAVAILABLE (exit 1).
func openOps(ctx context.Context, name string, c *call) (*opsEnv, error) {
	cfg := c.cfg
	if cfg.Embedded() {
		if err := useSandboxRedis(ctx, name, &cfg); err != nil {
			return nil, err
		}
	}
	rc, err := redisx.New(&cfg)
	if err != nil {
		return nil, err
	}
	env := &opsEnv{cfg: cfg, redis: rc, keys: keys.New(cfg.Namespace)}
	jc, jown, err := redisx.NewJournal(&cfg, rc)
	if err != nil {
		rc.Close()
		return nil, err
	}
	closeRedis := func() {
		if jown {
			jc.Close()
		}
		rc.Close()
	}
	lvl, _ := zapcore.ParseLevel(cfg.LogLevel)
	// the budget is the instances' business (their JOURNAL_MAX_MEMORY may
	// not be this command's): no janitor here
	env.jrnl = journal.New(journal.Options{Client: jc, Keys: env.keys, MaxMemory: cfg.JournalMaxMemory,
		TTL: cfg.JournalTTL, NoJanitor: true})
	env.log, err = telemetry.New(telemetry.Options{Format: cfg.LogFormat, Level: lvl, Instance: cfg.InstanceID,
		Secrets: cfg.Secrets(), Output: c.stderr, Sink: env.jrnl})
	if err != nil {
		closeRedis()
		return nil, err
	}
	env.jrnl.SetLogger(env.log)
	// go-redis' pool lines go to the log at debug level: the command's own
	// error below is the one line that says what is wrong
	telemetry.RouteRedisLogs(env.log)
	if err := redisx.Ping(ctx, rc, 5*time.Second); err != nil {
		closeRedis()
		if perr := redisx.PermanentError(&cfg, err); perr != nil {
			return nil, perr
		}
		return nil, fmt.Errorf("redis unavailable (%s): %w", telemetry.ReasonRedisUnavailable, err)
	}
	// the commands run the instances' scripts: a Redis user that may not is
	// refused here, as serve refuses it at start
	if err := redisx.Probe(ctx, rc, env.keys.Shard(0).Probe(), 5*time.Second); err != nil {
		if perr := redisx.PermanentError(&cfg, err); perr != nil {
			closeRedis()
			return nil, perr
		}
	}
	if env.shards, _, err = queue.RecordedShards(ctx, rc, env.keys); err != nil {
		closeRedis()
		return nil, err
	}
	jctx, stopJournal := context.WithCancel(context.Background())
	jdone := make(chan struct{})
	go func() { _ = env.jrnl.Run(jctx); close(jdone) }()
	env.queue = queue.New(rc, env.keys, queue.Options{Shards: max(env.shards, 1), MaxBacklog: cfg.MaxBacklog,
		DedupeWindow: cfg.DedupeWindow, Log: env.log})
	env.inspect = inspect.ForConfig(&cfg, rc, env.queue, env.jrnl)
	env.stop = func() {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = env.jrnl.Flush(fctx)
		cancel()
		stopJournal()
		<-jdone
		env.log.Sync()
		closeRedis()
	}
	return env, nil
}

// useSandboxRedis points cfg at the embedded Redis of the sandbox instance
// on cfg.ListenAddr, asking it at GET /sandbox/redis.
func useSandboxRedis(ctx context.Context, name string, cfg *config.Config) error {
	addr := localAddr(cfg.ListenAddr)
	sr, err := askSandbox(ctx, addr)
	if err != nil {
		return &config.Error{Var: "REDIS_URL", Reason: fmt.Sprintf(
			"%s reads Redis: set REDIS_URL, REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS, or start the sandbox (make run) on LISTEN_ADDR %s (%v)",
			name, addr, err)}
	}
	cfg.RedisURL = "redis://" + sr.Addr
	cfg.Namespace, cfg.Shards = sr.Namespace, sr.Shards
	return nil
}

func askSandbox(ctx context.Context, addr string) (server.SandboxRedis, error) {
	var sr server.SandboxRedis
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+server.SandboxRedisPath, nil)
	if err != nil {
		return sr, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return sr, fmt.Errorf("no answer: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return sr, fmt.Errorf("GET %s answered %d: not a sandbox instance with an embedded Redis", server.SandboxRedisPath, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&sr); err != nil || sr.Addr == "" || sr.Namespace == "" || sr.Shards < 1 {
		return sr, fmt.Errorf("GET %s: not a dispatcher sandbox answer", server.SandboxRedisPath)
	}
	return sr, nil
}

// unwrapURLError drops net/http's `Get "URL":` prefix, which repeats the
// address the message already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// localAddr is a listen address as a client on the same machine dials it:
// localhost for an address on every interface (":8080", "0.0.0.0:8080").
func localAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// noShardsLine is what the commands print for a namespace whose shard
// count is not recorded yet.
func (env *opsEnv) noShardsLine() string {
	return fmt.Sprintf("no shard count recorded in Redis for namespace %s yet (key %s): no instance of it has started; "+
		"the first one records its SHARDS", env.cfg.Namespace, env.keys.Shards())
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
