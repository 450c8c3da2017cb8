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
	// Shards is the number of shards (SHARDS).
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
	// a shard in Sentinel mode.
	SentinelAddrs  []string
	SentinelMaster string
}

// Inspector answers the operator's questions. Create it with New; it is
// safe for concurrent use.
type Inspector struct{ c Config }

// New returns an Inspector of c.
func New(c Config) *Inspector {
	if c.Shards < 1 {
		c.Shards = 1
	}
	return &Inspector{c: c}
}

// Shards returns the number of shards it reads.
func (in *Inspector) Shards() int { return in.c.Shards }

// Namespace returns the key namespace it reads.
func (in *Inspector) Namespace() string { return in.c.Namespace }

// ForConfig returns the Inspector of an instance's or a command's
// configuration.
func ForConfig(cfg *config.Config, rc *redisx.Client, q *queue.Queue, j *journal.Journal) *Inspector {
	return New(Config{Redis: rc, Keys: keys.New(cfg.Namespace), Namespace: cfg.Namespace, Shards: cfg.Shards,
		Queue: q, Journal: j, JournalStats: j,
		SentinelAddrs: cfg.RedisSentinelAddrs, SentinelMaster: cfg.RedisSentinelMaster})
}
