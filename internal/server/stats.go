package server

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// statsEvery is how often the gauges of /metrics are refreshed.
const statsEvery = 5 * time.Second

// statsLoop keeps the gauges of /metrics current: the queue gauges of the
// shards this instance holds, and, while it holds shard 0, the deployment
// gauges (Redis memory), so that each is exported by one instance only. It
// refreshes every statsEvery and at a change of this instance's shards, at
// most once a second.
func (s *Server) statsLoop(ctx context.Context) error {
	t := time.NewTicker(statsEvery)
	defer t.Stop()
	for {
		changed := s.leases.Changed() // before the refresh: a change during it is not missed
		s.refreshStats(ctx)
		last := time.Now()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-changed:
			// A shard was won or lost (a lost shard's gauges are gone
			// already, metrics.LeaseLost): refresh now, but at most once a
			// second, so that a burst of changes (an instance taking 1,024
			// shards at start) costs one refresh a second, not one a shard.
			if wait := time.Second - time.Since(last); wait > 0 {
				burst := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					burst.Stop()
					return nil
				case <-burst.C:
				}
			}
		}
	}
}

func (s *Server) refreshStats(ctx context.Context) {
	st := s.leases.Status()
	held := func(shard int) bool { return st[shard].Role == telemetry.RoleActive }
	_ = s.queue.RefreshGauges(ctx, s.metrics, held) // a failure leaves the gauges as they were
	if !held(0) {
		s.metrics.ForgetDeployment()
		return
	}
	used, max, err := redisMemory(ctx, s.redis)
	if err != nil {
		s.metrics.ForgetDeployment()
		return
	}
	s.metrics.SetDeployment(used, max)
}

// redisMemory reads used_memory and maxmemory from INFO memory; on a
// Cluster, of the master nearest its maxmemory.
func redisMemory(ctx context.Context, c redis.UniversalClient) (used, max int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return 0, 0, err
		}
		used, max = parseMemory(info)
		return used, max, nil
	}
	var mu sync.Mutex
	err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		info, err := m.Info(ctx, "memory").Result()
		if err != nil {
			return err
		}
		u, x := parseMemory(info)
		mu.Lock()
		defer mu.Unlock()
		if fuller(u, x, used, max) {
			used, max = u, x
		}
		return nil
	})
	return used, max, err
}

// fuller reports whether a node using u of x bytes (x 0: no limit) is
// nearer its limit than one using used of max; a limited node ranks above
// any unlimited one.
func fuller(u, x, used, max int64) bool {
	switch {
	case x > 0 && max > 0:
		return float64(u)/float64(x) > float64(used)/float64(max)
	case x > 0 || max > 0:
		return x > 0
	}
	return u > used
}

// parseMemory reads used_memory and maxmemory from INFO memory's text.
func parseMemory(info string) (used, max int64) {
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "used_memory":
			used = n
		case "maxmemory":
			max = n
		}
	}
	return used, max
}
