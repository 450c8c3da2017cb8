package dispatcher

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
)

// Script is a Lua script for the bot's own Redis state that runs only
// while this instance holds the update's shard: the side effect that must
// not happen twice, or at all under a stale leader (a counter, a ticket
// number, a payment mark). Make it once with NewScript, run it with
// Context.Run.
//
// Inside the script KEYS[1] and ARGV[1] are the fence (the shard's lease
// and the dispatch's token, checked before the body runs); the script's
// own keys start at KEYS[2] and its own arguments at ARGV[2]. Every key
// must come from Context.Key, so that all of them live in the shard's hash
// slot (Redis Cluster runs the script on one node).
type Script struct{ s *lease.FencedScript }

// NewScript returns the fenced form of a Lua body.
func NewScript(body string) *Script { return &Script{s: lease.NewFencedScript(body)} }

// Run runs s under the dispatch's fence with keys (from Context.Key) and
// args, and returns its reply. It returns an error matching ErrNotActive,
// with nothing run, once this instance no longer holds the update's shard
// (checked in this process first, then by Redis in the script itself).
func (c *Context) Run(s *Script, keys []string, args ...any) (any, error) {
	f, ok := lease.FenceFrom(c)
	if !ok {
		return nil, fmt.Errorf("dispatcher: Run outside a dispatch: no fence in the context")
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, f.Shard.App("")) {
			return nil, fmt.Errorf("dispatcher: Run: key %q is not a Context.Key of shard %d", k, f.Shard.N())
		}
	}
	if err := lease.CheckGate(c); err != nil {
		return nil, err
	}
	v, err := s.s.Run(c, c.env.Redis, f.Shard, f.Token, keys, args...).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil // the script returned nil (or false)
	}
	return v, lease.MapFenced(err)
}
