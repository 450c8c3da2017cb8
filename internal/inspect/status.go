package inspect

import (
	"context"
	"net"
	"sort"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/deployment"
	"github.com/dispatcher-bot/dispatcher/internal/journal"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/membership"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/webhookcheck"
)

// Status is the deployment at a glance: what `dispatcher status --json`
// prints.
type Status struct {
	Namespace string `json:"namespace"`
	// ShardCount is the shard count recorded in Redis by the namespace's
	// first instance (0: none recorded yet); Shards lists that many.
	ShardCount int                       `json:"shard_count"`
	Instances  []membership.InstanceInfo `json:"instances"`
	Shards     []ShardStatus             `json:"shards"`
	// Outside lists non-empty update streams of shards at or above
	// ShardCount: updates no instance reads.
	Outside []queue.StrayStream `json:"streams_outside_shard_count"`
	Poll    *PollStatus         `json:"poll,omitempty"` // INGEST=poll
	// Deployment is the mode and bot the namespace's first instance
	// recorded (nil: none yet); each instance's own are in Instances.
	Deployment *deployment.Recorded `json:"deployment,omitempty"`
	// Webhook is the last getWebhookInfo answer of the webhook check
	// (nil: none within a few WEBHOOK_CHECK_INTERVALs).
	Webhook *webhookcheck.Report `json:"webhook,omitempty"`
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

// Status reads the live instances (sorted by id), every shard of the
// recorded shard count and the non-empty streams outside it.
func (in *Inspector) Status(ctx context.Context) (Status, error) {
	st := Status{Namespace: in.c.Namespace, Instances: []membership.InstanceInfo{}, Shards: []ShardStatus{},
		Outside: []queue.StrayStream{}}
	shards, err := in.ShardCount(ctx)
	if err != nil {
		return st, err
	}
	st.ShardCount = shards
	// the bare client: ListInstances scans every master of a Cluster only
	// when it sees the *redis.ClusterClient itself
	insts, err := membership.ListInstances(ctx, in.c.Redis.UniversalClient, in.c.Keys)
	if err != nil {
		return st, err
	}
	sort.Slice(insts, func(i, j int) bool { return insts[i].ID < insts[j].ID })
	st.Instances = append(st.Instances, insts...)
	nodeOf := in.shardNodes(ctx)
	stray, err := queue.StrayStreams(ctx, in.c.Redis, in.c.Keys, shards)
	if err != nil {
		return st, err
	}
	st.Outside = append(st.Outside, stray...)
	for n := 0; n < shards; n++ {
		li, err := lease.Inspect(ctx, in.c.Redis, in.c.Keys, n)
		if err != nil {
			return st, err
		}
		qs, err := in.c.Queue.Stats(ctx, n)
		if err != nil {
			return st, err
		}
		ss := shardStatus(li, qs)
		ss.Node, ss.Slot = nodeOf(n)
		st.Shards = append(st.Shards, ss)
	}
	if st.Poll, err = in.poll(ctx); err != nil {
		return st, err
	}
	if err := in.deployment(ctx, &st); err != nil {
		return st, err
	}
	// the journal may live in a Redis of its own: its trouble is shown,
	// not fatal
	if in.c.JournalStats != nil {
		if js, err := in.c.JournalStats.Stats(ctx); err != nil {
			st.JournalError = err.Error()
		} else {
			st.Journal = &js
		}
	}
	return st, nil
}

// shardNodes returns what tells, per shard, which Redis server holds the
// shard's keys (see ShardStatus.Node); "?" when it cannot be found out.
func (in *Inspector) shardNodes(ctx context.Context) func(shard int) (string, *int) {
	switch c := in.c.Redis.UniversalClient.(type) {
	case *redis.ClusterClient:
		return func(n int) (string, *int) {
			key := in.c.Keys.Shard(n).Lease()
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
		if in.c.Redis.Mode == "sentinel" {
			addr = in.sentinelMaster(ctx)
		}
		return func(int) (string, *int) { return addr, nil }
	}
	return func(int) (string, *int) { return "?", nil }
}

// sentinelMaster asks the Sentinels, in turn, for the current master's
// address (with REDIS_SENTINEL_PASSWORD and REDIS_TLS, as the instances).
func (in *Inspector) sentinelMaster(ctx context.Context) string {
	for _, a := range in.c.SentinelAddrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a, DialTimeout: redisx.DialTimeout,
			ReadTimeout: redisx.ReadTimeout, ContextTimeoutEnabled: true,
			Password: in.c.SentinelPassword, TLSConfig: in.c.SentinelTLS})
		addr, err := sc.GetMasterAddrByName(ctx, in.c.SentinelMaster).Result()
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
