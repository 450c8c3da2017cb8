package redisx

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Scan returns every key matching pattern, walking every master of a Redis
// Cluster (a cluster client's SCAN would visit one node only). Keys that
// appear or vanish during the walk may or may not be returned (SCAN's
// rule).
func Scan(ctx context.Context, c redis.UniversalClient, pattern string) ([]string, error) {
	scan := func(ctx context.Context, n redis.Cmdable) ([]string, error) {
		var out []string
		iter := n.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			out = append(out, iter.Val())
		}
		return out, iter.Err()
	}
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		if w, wrapped := c.(*Client); wrapped {
			return Scan(ctx, w.UniversalClient, pattern)
		}
		return scan(ctx, c)
	}
	var (
		mu    sync.Mutex
		names []string
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		local, err := scan(ctx, n)
		mu.Lock()
		names = append(names, local...)
		mu.Unlock()
		return err
	})
	return names, err
}
