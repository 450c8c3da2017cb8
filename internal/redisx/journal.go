package redisx

import (
	"errors"

	"github.com/dispatcher-bot/dispatcher/internal/config"
)

// NewJournal returns the client of the event journal and whether the
// caller owns it (and closes it):
//   - with JOURNAL_REDIS_URL, a client of that Redis;
//   - else a second client of the queue's Redis (same servers, same
//     timeouts), so that the journal has a connection pool of its own and
//     never takes the connections the queue needs;
//   - with the embedded Redis, the queue's client itself (not owned).
//
// It does not contact Redis.
func NewJournal(cfg *config.Config, queue *Client) (*Client, bool, error) {
	switch {
	case cfg.JournalRedisURL != "":
		jc := *cfg
		jc.RedisURL, jc.RedisClusterAddrs, jc.RedisSentinelAddrs, jc.RedisSentinelMaster = cfg.JournalRedisURL, nil, nil, ""
		c, err := New(&jc)
		if errors.Is(err, ErrConfig) {
			// the URL may hold a password: never echo it
			return nil, false, &config.Error{Var: "JOURNAL_REDIS_URL", Reason: "does not parse as a Redis URL"}
		}
		return c, err == nil, err
	case queue.Embedded != nil:
		return queue, false, nil
	}
	c, err := New(cfg)
	return c, err == nil, err
}
