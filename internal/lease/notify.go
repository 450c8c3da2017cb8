package lease

import (
	"context"
	"strconv"
)

// listen wakes a shard's loop when a release of that shard is published on
// keys.Space.LeaseReleased(), so that a PASSIVE instance takes over at once
// instead of at its next attempt. The subscription reconnects by itself;
// a missed message only costs the wait until the next attempt.
func (m *Manager) listen(ctx context.Context) {
	ps := m.cfg.Client.Subscribe(ctx, m.cfg.Keys.LeaseReleased())
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			n, err := strconv.Atoi(msg.Payload)
			if err != nil || n < 0 || n >= len(m.shards) {
				continue
			}
			select {
			case m.shards[n].wake <- struct{}{}:
			default:
			}
		}
	}
}
