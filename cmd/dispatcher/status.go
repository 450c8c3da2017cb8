package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/journal"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
)

func init() {
	register(&command{name: "status", usage: "status [--json]",
		summary: "cluster state read from Redis: live instances, and per shard the lease holder, token, stream, pending, dead letters",
		about:   opsAbout, config: true,
		setup: func(fs *flag.FlagSet, cfg *config.Config) func(context.Context, *call) error {
			asJSON := fs.Bool("json", false, "print JSON")
			cfg.BindFlags(fs, opsVars...)
			return func(ctx context.Context, c *call) error { return runStatus(ctx, c, *asJSON) }
		}})
}

// Status is what `dispatcher status --json` prints.
type Status struct {
	Namespace string               `json:"namespace"`
	Instances []lease.InstanceInfo `json:"instances"`
	Shards    []ShardStatus        `json:"shards"`
	Poll      *PollStatus          `json:"poll,omitempty"` // INGEST=poll
	// Journal is the event journal's memory, budget and oldest chain;
	// nil when the journal's Redis did not answer (JournalError says why).
	Journal      *journal.Stats `json:"journal,omitempty"`
	JournalError string         `json:"journal_error,omitempty"`
}

// ShardStatus is one shard in Status.
type ShardStatus struct {
	Shard int `json:"shard"`
	// Node is the Redis server that holds the shard's keys: on a Cluster
	// the master serving the shard's hash slot (Slot), on Sentinel the
	// current master, else the one server.
	Node             string  `json:"node"`
	Slot             *int    `json:"slot,omitempty"`
	Holder           string  `json:"holder"` // "" when no instance is ACTIVE
	Token            int64   `json:"token"`
	TTLSeconds       float64 `json:"ttl_seconds"`
	Length           int64   `json:"stream_length"`
	Pending          int64   `json:"pending"`
	OldestPendingSec float64 `json:"oldest_pending_seconds"`
	DeadLetters      int64   `json:"dead_letters"`
}

func runStatus(ctx context.Context, c *call, asJSON bool) error {
	if len(c.args) > 0 {
		return usageErr("status", "status takes no arguments, got %q", c.args[0])
	}
	env, err := openOps(ctx, "status", c)
	if err != nil {
		return err
	}
	defer env.stop()
	stdout := c.stdout
	ctx, cancel := context.WithTimeout(ctx, opsTimeout)
	defer cancel()
	st, err := readStatus(ctx, env)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, st)
	}
	return writeStatus(stdout, st)
}

func readStatus(ctx context.Context, env *opsEnv) (Status, error) {
	st := Status{Namespace: env.cfg.Namespace, Instances: []lease.InstanceInfo{}}
	// the bare client: ListInstances scans every master of a Cluster only
	// when it sees the *redis.ClusterClient itself
	insts, err := lease.ListInstances(ctx, env.redis.UniversalClient, env.keys)
	if err != nil {
		return st, err
	}
	sort.Slice(insts, func(i, j int) bool { return insts[i].ID < insts[j].ID })
	st.Instances = append(st.Instances, insts...)
	nodeOf := shardNodes(ctx, env)
	for n := 0; n < env.cfg.Shards; n++ {
		li, err := lease.Inspect(ctx, env.redis, env.keys, n)
		if err != nil {
			return st, err
		}
		qs, err := env.queue.Stats(ctx, n)
		if err != nil {
			return st, err
		}
		ss := shardStatus(li, qs)
		ss.Node, ss.Slot = nodeOf(n)
		st.Shards = append(st.Shards, ss)
	}
	if st.Poll, err = readPoll(ctx, env); err != nil {
		return st, err
	}
	// the journal may live in a Redis of its own: its trouble is shown,
	// not fatal
	if js, err := env.jrnl.Stats(ctx); err != nil {
		st.JournalError = err.Error()
	} else {
		st.Journal = &js
	}
	return st, nil
}

// shardNodes returns what tells, per shard, which Redis server holds the
// shard's keys (see ShardStatus.Node); "?" when it cannot be found out.
func shardNodes(ctx context.Context, env *opsEnv) func(shard int) (string, *int) {
	switch c := env.redis.UniversalClient.(type) {
	case *redis.ClusterClient:
		return func(n int) (string, *int) {
			key := env.keys.Shard(n).Lease()
			var slot *int
			if v, err := c.ClusterKeySlot(ctx, key).Result(); err == nil {
				s := int(v)
				slot = &s
			}
			m, err := c.MasterForKey(ctx, key)
			if err != nil {
				return "?", slot
			}
			return m.Options().Addr, slot
		}
	case *redis.Client:
		addr := c.Options().Addr
		if env.redis.Mode == "sentinel" {
			addr = sentinelMaster(ctx, env.cfg.RedisSentinelAddrs, env.cfg.RedisSentinelMaster)
		}
		return func(int) (string, *int) { return addr, nil }
	}
	return func(int) (string, *int) { return "?", nil }
}

// sentinelMaster asks the Sentinels, in turn, for the current master's
// address.
func sentinelMaster(ctx context.Context, sentinels []string, name string) string {
	for _, a := range sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a, DialTimeout: redisx.DialTimeout,
			ReadTimeout: redisx.ReadTimeout, ContextTimeoutEnabled: true})
		addr, err := sc.GetMasterAddrByName(ctx, name).Result()
		_ = sc.Close()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1])
		}
	}
	return "?"
}

func shardStatus(li lease.LeaseInfo, qs queue.ShardStats) ShardStatus {
	s := ShardStatus{Shard: li.Shard, Length: qs.Length, Pending: qs.Pending,
		OldestPendingSec: qs.OldestPendingAge.Seconds(), DeadLetters: qs.DeadLetters}
	if li.Held {
		s.Holder, s.Token, s.TTLSeconds = li.Holder, li.Token, li.TTL.Seconds()
	}
	return s
}

func writeStatus(w io.Writer, st Status) error {
	fmt.Fprintf(w, "namespace %s: %d live instance(s)\n\n", st.Namespace, len(st.Instances))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tROLE\tSHARDS\tADDR\tVERSION\tUP\tHEARTBEAT TTL")
	for _, in := range st.Instances {
		shards := make([]string, len(in.Shards))
		for i, s := range in.Shards {
			shards[i] = fmt.Sprint(s)
		}
		up := "-"
		if !in.Started.IsZero() {
			up = time.Since(in.Started).Truncate(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, dash(in.Role), dash(strings.Join(shards, ",")),
			dash(in.Addr), dash(in.Version), up, in.TTL.Truncate(time.Millisecond))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tNODE\tHOLDER\tTOKEN\tTTL LEFT\tSTREAM\tPENDING\tOLDEST PENDING\tDEAD LETTERS")
	for _, s := range st.Shards {
		holder, token, ttl := "(none: no ACTIVE instance)", "-", "-"
		if s.Holder != "" {
			holder, token = s.Holder, fmt.Sprint(s.Token)
			ttl = (time.Duration(s.TTLSeconds * float64(time.Second))).Truncate(time.Millisecond).String()
		}
		oldest := "-"
		if s.Pending > 0 {
			oldest = (time.Duration(s.OldestPendingSec * float64(time.Second))).Truncate(time.Millisecond).String()
		}
		node := dash(s.Node)
		if s.Slot != nil {
			node += fmt.Sprintf(" (slot %d)", *s.Slot)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\n", s.Shard, node, holder, token, ttl, s.Length, s.Pending, oldest, s.DeadLetters)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	writePoll(w, st.Poll)
	fmt.Fprintln(w)
	return writeJournalStatus(w, st)
}

// writeJournalStatus writes the journal's line: memory against budget,
// the oldest chain kept (and the oldest failing one), what the budget
// evicted and what could not be written.
func writeJournalStatus(w io.Writer, st Status) error {
	if st.Journal == nil {
		_, err := fmt.Fprintf(w, "journal: unavailable (%s)\n", st.JournalError)
		return err
	}
	j := st.Journal
	pct := 0.0
	if j.Budget > 0 {
		pct = 100 * float64(j.Used) / float64(j.Budget)
	}
	age := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return time.Since(t).Truncate(time.Second).String() + " ago"
	}
	evicted := "none"
	if j.Evicted > 0 {
		evicted = fmt.Sprintf("%d segments; chains that went well are evicted after about %s", j.Evicted, j.KeptFor.Truncate(time.Second))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOURNAL MEMORY\tBUDGET\tOLDEST CHAIN\tOLDEST FAILING CHAIN\tEVICTED BY BUDGET\tNOT WRITTEN\tDEBUG USERS")
	fmt.Fprintf(tw, "%s (%.0f%%)\t%s\t%s\t%s\t%s\t%d events\t%d\n", humanBytes(j.Used), pct, humanBytes(j.Budget), age(j.OldestChain),
		age(j.OldestFailing), evicted, j.NotWritten, j.DebugUsers)
	return tw.Flush()
}

// humanBytes writes a size in KiB, MiB or GiB, one decimal.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
