package lease

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
)

var (
	//go:embed acquire.lua
	acquireSrc string
	//go:embed renew.lua
	renewSrc string
	//go:embed release.lua
	releaseSrc string
	//go:embed inspect.lua
	inspectSrc string

	acquireScript = redis.NewScript(acquireSrc)
	renewScript   = redis.NewScript(renewSrc)
	releaseScript = redis.NewScript(releaseSrc)
	inspectScript = redis.NewScript(inspectSrc)
)

// errBadReply is a script reply of an unexpected shape.
var errBadReply = errors.New("lease: unexpected script reply")

// owner is who holds a lease: Name, the instance id shown by status and in
// events, and ID, the per-process identity the scripts compare, so that a
// twin under the same INSTANCE_ID can never renew, release or take over
// this process's lease.
type owner struct{ Name, ID string }

// ownerOf is the owner whose per-process identity is its name (tests).
func ownerOf(name string) owner { return owner{Name: name, ID: name} }

// acquireResult is the outcome of one acquisition attempt.
type acquireResult struct {
	Won    bool
	Token  int64         // the new token when won, else the holder's
	Holder string        // the current holder when not won
	TTL    time.Duration // time left on the holder's lease when not won (<0: none)
}

// acquireLease tries to win shard k's lease for o; floor is the lowest
// token the caller accepts.
func acquireLease(ctx context.Context, c redis.Scripter, k keys.Shard, o owner, ttl time.Duration, floor int64) (acquireResult, error) {
	v, err := acquireScript.Run(ctx, c, []string{k.Lease(), k.Fence()}, o.Name, ttl.Milliseconds(), floor, o.ID).Slice()
	if err != nil {
		return acquireResult{}, err
	}
	won, err := intAt(v, 0)
	if err != nil {
		return acquireResult{}, err
	}
	if won == 1 {
		tok, err := intAt(v, 1)
		return acquireResult{Won: true, Token: tok}, err
	}
	if len(v) < 4 {
		return acquireResult{}, fmt.Errorf("%w: %v", errBadReply, v)
	}
	tok, _ := intAt(v, 2)
	pttl, _ := intAt(v, 3)
	return acquireResult{Holder: fmt.Sprint(v[1]), Token: tok, TTL: time.Duration(pttl) * time.Millisecond}, nil
}

// renewResult is the outcome of one renewal.
type renewResult struct {
	OK     bool
	Holder string // current holder when not renewed ("" when the lease is gone)
	Token  int64  // current token when not renewed (0 when the lease is gone)
}

// renewLease extends shard k's lease while it is o's under token.
func renewLease(ctx context.Context, c redis.Scripter, k keys.Shard, o owner, token int64, ttl time.Duration) (renewResult, error) {
	v, err := renewScript.Run(ctx, c, []string{k.Lease()}, o.ID, token, ttl.Milliseconds()).Slice()
	if err != nil {
		return renewResult{}, err
	}
	ok, err := intAt(v, 0)
	if err != nil {
		return renewResult{}, err
	}
	if ok == 1 {
		return renewResult{OK: true}, nil
	}
	if len(v) < 3 {
		return renewResult{}, fmt.Errorf("%w: %v", errBadReply, v)
	}
	tok, _ := intAt(v, 2)
	return renewResult{Holder: fmt.Sprint(v[1]), Token: tok}, nil
}

// releaseLease deletes shard k's lease while it is o's under token and
// publishes the release; false means it was not o's any more.
func releaseLease(ctx context.Context, c redis.Scripter, ks keys.Space, k keys.Shard, o owner, token int64) (bool, error) {
	n, err := releaseScript.Run(ctx, c, []string{k.Lease()}, o.ID, token, ks.LeaseReleased(), k.N()).Int64()
	return n == 1, err
}

// ReplyInt reads element i of a script reply as an integer, whether Redis
// sent it as an integer or as a decimal string ("" reads as 0), for the
// scripts of packages built on this one (membership).
func ReplyInt(v []any, i int) (int64, error) { return intAt(v, i) }

// intAt is ReplyInt.
func intAt(v []any, i int) (int64, error) {
	if i >= len(v) {
		return 0, fmt.Errorf("%w: %d elements, want index %d", errBadReply, len(v), i)
	}
	switch x := v[i].(type) {
	case int64:
		return x, nil
	case string:
		if x == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: element %d: %w", errBadReply, i, err)
		}
		return n, nil
	case nil:
		return 0, nil
	}
	return 0, fmt.Errorf("%w: element %d is %T", errBadReply, i, v[i])
}
