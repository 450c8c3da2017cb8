package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/journal"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// opsTimeout bounds one operator command's Redis work.
const opsTimeout = 30 * time.Second

// opsEnv is what the operator commands share: the configuration (the same
// environment and flags as serve), a Redis client and the queue.
type opsEnv struct {
	cfg   config.Config
	redis *redisx.Client
	keys  keys.Space
	queue *queue.Queue
	log   *telemetry.Logger
	jrnl  *journal.Journal
	stop  func()
}

// newFlagSet returns a flag set that also takes every variable of serve, so
// `dispatcher status -redis-url ...` works like the environment.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// openOps loads the configuration from the environment and fs's flags,
// requires a real Redis, and connects.
func openOps(ctx context.Context, fs *flag.FlagSet, args []string, stderr io.Writer) (*opsEnv, []string, error) {
	cfg, rest, err := loadConfig(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Embedded() {
		return nil, nil, &config.Error{Var: "REDIS_URL", Reason: fs.Name() + " reads a shared Redis: set REDIS_URL, REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS"}
	}
	rc, err := redisx.New(&cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := redisx.Ping(ctx, rc, 5*time.Second); err != nil {
		rc.Close()
		return nil, nil, fmt.Errorf("redis unavailable (%s): %w", telemetry.ReasonRedisUnavailable, err)
	}
	env := &opsEnv{cfg: cfg, redis: rc, keys: keys.New(cfg.Namespace)}
	jc, jown, err := redisx.NewJournal(&cfg, rc)
	if err != nil {
		rc.Close()
		return nil, nil, err
	}
	closeRedis := func() {
		if jown {
			jc.Close()
		}
		rc.Close()
	}
	lvl, _ := zapcore.ParseLevel(cfg.LogLevel)
	env.jrnl = journal.New(journal.Options{Client: jc, Keys: env.keys, MaxMemory: cfg.JournalMaxMemory, TTL: cfg.JournalTTL,
		NoJanitor: true})
	env.log, err = telemetry.New(telemetry.Options{Format: cfg.LogFormat, Level: lvl, Instance: cfg.InstanceID,
		Secrets: cfg.Secrets(), Output: stderr, Sink: env.jrnl})
	if err != nil {
		closeRedis()
		return nil, nil, err
	}
	env.jrnl.SetLogger(env.log)
	jctx, stopJournal := context.WithCancel(context.Background())
	jdone := make(chan struct{})
	go func() { _ = env.jrnl.Run(jctx); close(jdone) }()
	env.queue = queue.New(rc, env.keys, queue.Options{Shards: cfg.Shards, MaxBacklog: cfg.MaxBacklog,
		DedupeWindow: cfg.DedupeWindow, Log: env.log})
	env.stop = func() {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = env.jrnl.Flush(fctx)
		cancel()
		stopJournal()
		<-jdone
		env.log.Sync()
		closeRedis()
	}
	return env, rest, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func init() {
	opsCommands["trace"] = runTrace
}

// runTrace prints the event chain of one cid, oldest first.
func runTrace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trace", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per event")
	args = moveFlagsFirst(args)
	env, rest, err := openOps(ctx, fs, args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	defer env.stop()
	if len(rest) != 1 {
		return usagef("trace takes one CID (8 hex characters), got %d arguments", len(rest))
	}
	cid := rest[0]
	if !telemetry.ValidCID(cid) {
		return usagef("trace: %q is not a cid (8 lowercase hex characters)", cid)
	}
	ctx, cancel := context.WithTimeout(ctx, opsTimeout)
	defer cancel()
	events, err := env.jrnl.Chain(ctx, cid)
	if err != nil {
		return err
	}
	note, err := env.jrnl.NotKept(ctx, cid, 0)
	if err != nil {
		return err
	}
	if len(events) == 0 {
		return fmt.Errorf("trace: no events for cid %s: %s", cid, note)
	}
	if err := telemetry.WriteTrace(stdout, events, *asJSON); err != nil {
		return err
	}
	if note != "" {
		if *asJSON {
			fmt.Fprintln(stderr, "trace: "+note) // stdout stays one JSON object a line
		} else {
			fmt.Fprintln(stdout, "note: "+note)
		}
	}
	return nil
}

// moveFlagsFirst lets flags follow positional arguments (`trace CID
// --json`), as operators type them; the flag package stops at the first
// positional argument otherwise. A flag's value is kept with it.
func moveFlagsFirst(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			if !isBoolFlag(a) && !containsEq(a) && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

// boolFlags are the flags of the operator commands that take no value.
var boolFlags = map[string]bool{"json": true, "all": true, "drop-pending": true, "sandbox": true,
	"insecure-webhook": true, "silence-guard": true, "h": true, "help": true}

func isBoolFlag(a string) bool {
	for len(a) > 0 && a[0] == '-' {
		a = a[1:]
	}
	return boolFlags[a]
}

func containsEq(a string) bool {
	for i := 0; i < len(a); i++ {
		if a[i] == '=' {
			return true
		}
	}
	return false
}
