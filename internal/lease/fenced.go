package lease

import (
	"context"
	"fmt"
)

// RunFenced runs a fenced script for shard under token: it refuses at once,
// without a Redis call, when Valid(shard, token) is false (the error matches
// both ErrFenced and ErrNotHeld), and otherwise runs s, which Redis refuses
// when token is no longer the shard's current one (ErrFenced). Use it for
// every write made on a dispatch's behalf: acks, FSM state, jobs.
func (m *Manager) RunFenced(ctx context.Context, s *FencedScript, shard int, token int64, keys []string, args ...any) (any, error) {
	if !m.Valid(shard, token) {
		return nil, fmt.Errorf("%w: %w: shard %d token %d", ErrFenced, ErrNotHeld, shard, token)
	}
	v, err := s.Run(ctx, m.cfg.Client, m.cfg.Keys.Shard(shard), token, keys, args...).Result()
	return v, MapFenced(err)
}
