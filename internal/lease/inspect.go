package lease

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
)

// LeaseInfo is a shard's lease as Redis has it, for `dispatcher status`.
type LeaseInfo struct {
	Shard     int           `json:"shard"`
	Held      bool          `json:"held"`             // a live lease exists
	Holder    string        `json:"holder,omitempty"` // INSTANCE_ID of the holder
	Token     int64         `json:"token,omitempty"`  // the holder's fencing token
	TTL       time.Duration `json:"ttl"`              // time left before the lease expires
	LastToken int64         `json:"last_token"`       // highest token handed out (the fence counter)
}

// Inspect reads shard's lease in one read-only script call. A free lease is
// not an error: Held is false.
func Inspect(ctx context.Context, c redis.UniversalClient, ks keys.Space, shard int) (LeaseInfo, error) {
	k := ks.Shard(shard)
	v, err := inspectScript.Run(ctx, c, []string{k.Lease(), k.Fence()}).Slice()
	if err != nil {
		return LeaseInfo{}, fmt.Errorf("lease: inspect shard %d: %w", shard, err)
	}
	if len(v) < 4 {
		return LeaseInfo{}, fmt.Errorf("%w: %v", errBadReply, v)
	}
	info := LeaseInfo{Shard: shard, Holder: fmt.Sprint(v[0])}
	if info.Token, err = intAt(v, 1); err != nil {
		return LeaseInfo{}, err
	}
	pttl, err := intAt(v, 2)
	if err != nil {
		return LeaseInfo{}, err
	}
	if info.LastToken, err = intAt(v, 3); err != nil {
		return LeaseInfo{}, err
	}
	info.Held = info.Holder != ""
	if pttl > 0 {
		info.TTL = time.Duration(pttl) * time.Millisecond
	}
	return info, nil
}
