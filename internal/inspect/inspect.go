// Package inspect reads, and on an operator's request changes, the state a
// deployment shares in Redis: the live instances, each shard's lease,
// stream and dead letters, and the event chains of the journal. It is what
// `dispatcher status`, `trace` and `dlq` show and what the ops page
// (internal/opsweb) shows, so the two always agree.
//
// Guarantees: every call reads Redis afresh (nothing is cached) and goes
// through the owning package's API (lease, queue, the journal's read API),
// never around it. Not guaranteed: a Status is not a snapshot; shards are
// read one after another, so a lease can move between two of them. An
// Inspector holds no goroutines and never closes the client it was given.
package inspect

import (
	"context"
	"crypto/tls"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/journal"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Config is what an Inspector reads.
type Config struct {
	Redis     *redisx.Client
	Keys      keys.Space
	Namespace string
	// Shards, when positive, is a fixed number of shards to read (tests).
	// Zero, as ForConfig sets it, reads at each call the shard count the
	// namespace's first instance recorded in Redis ({ns}:shards), never the
	// reader's own SHARDS: an instance started with another count exits, so
	// the recorded one is what every dispatching instance uses.
	Shards int
	// Queue is the namespace's queue; replays log DLQ_REPLAYED through its
	// Logger.
	Queue *queue.Queue
	// Journal reads the event journal. When it is also a
	// telemetry.JournalNotes, chains say what the journal did not keep.
	Journal telemetry.JournalReader
	// JournalStats, when set, reports the journal's memory and budget
	// (implemented by *journal.Journal).
	JournalStats interface {
		Stats(ctx context.Context) (journal.Stats, error)
	}
	// SentinelAddrs and SentinelMaster name the Sentinels, for the node of
	// a shard in Sentinel mode; SentinelPassword and SentinelTLS are how
	// they are reached (REDIS_SENTINEL_PASSWORD, REDIS_TLS).
	SentinelAddrs    []string
	SentinelMaster   string
	SentinelPassword string
	SentinelTLS      *tls.Config
}

// Inspector answers the operator's questions. Create it with New; it is
// safe for concurrent use.
type Inspector struct{ c Config }

// New returns an Inspector of c.
func New(c Config) *Inspector {
	if c.Shards < 0 {
		c.Shards = 0
	}
	return &Inspector{c: c}
}

// ShardCount returns the number of shards it reads: Config.Shards when
// fixed, else the count recorded in Redis, 0 when none is recorded yet (no
// instance of the namespace has started).
func (in *Inspector) ShardCount(ctx context.Context) (int, error) {
	if in.c.Shards > 0 {
		return in.c.Shards, nil
	}
	n, _, err := queue.RecordedShards(ctx, in.c.Redis, in.c.Keys)
	return n, err
}

// Namespace returns the key namespace it reads.
func (in *Inspector) Namespace() string { return in.c.Namespace }

// ForConfig returns the Inspector of an instance's or a command's
// configuration. It reads the shard count recorded in Redis, not
// cfg.Shards; q must serve at least that many shards.
func ForConfig(cfg *config.Config, rc *redisx.Client, q *queue.Queue, j *journal.Journal) *Inspector {
	// redisx.New built rc from cfg already, so its TLS settings are usable
	tlsCfg, _ := redisx.TLSConfig(cfg)
	return New(Config{Redis: rc, Keys: keys.New(cfg.Namespace), Namespace: cfg.Namespace,
		Queue: q, Journal: j, JournalStats: j,
		SentinelAddrs: cfg.RedisSentinelAddrs, SentinelMaster: cfg.RedisSentinelMaster,
		SentinelPassword: cfg.RedisSentinelPassword, SentinelTLS: tlsCfg})
}
