package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

func TestConfigDefaultsAndErrors(t *testing.T) {
	ok := func() Config {
		return Config{Queue: queue.New(nil, keys.New("x"), queue.Options{}), Leadership: &leader{},
			Handler: HandlerFunc(func(context.Context, *update.Update) error { return nil }),
			Log:     telemetry.Nop(), Metrics: metrics.NewTest(), Instance: "i"}
	}
	p, err := New(ok())
	require.NoError(t, err)
	require.Equal(t, DefaultWorkers, p.cfg.Workers)
	require.Equal(t, DefaultMaxDeliveries, p.cfg.MaxDeliveries)
	require.Equal(t, DefaultHandlerTimeout, p.cfg.HandlerTimeout)
	require.Equal(t, DefaultHandlerTimeout, p.cfg.AbandonAfter)
	require.Equal(t, DefaultBlock, p.cfg.Block)
	require.Equal(t, DefaultWorkers, len(p.slots))

	bad := []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Queue = nil }, "Queue: required"},
		{func(c *Config) { c.Leadership = nil }, "Leadership: required"},
		{func(c *Config) { c.Handler = nil }, "Handler: required"},
		{func(c *Config) { c.Log = nil }, "Log: required"},
		{func(c *Config) { c.Metrics = nil }, "Metrics: required"},
		{func(c *Config) { c.Instance = "" }, "Instance: required"},
		{func(c *Config) { c.Workers = -1 }, "Workers: must be at least 1, got -1"},
		{func(c *Config) { c.MaxDeliveries = -2 }, "MaxDeliveries: must be at least 1, got -2"},
		{func(c *Config) { c.HandlerTimeout = -time.Second }, "HandlerTimeout: must not be negative"},
		{func(c *Config) { c.AbandonAfter = -time.Second }, "AbandonAfter: must not be negative"},
		{func(c *Config) { c.RetryBackoff = time.Minute; c.RetryBackoffMax = time.Second }, "RetryBackoffMax: must be at least RetryBackoff"},
		{func(c *Config) { c.RedisBackoff = time.Minute; c.RedisBackoffMax = time.Second }, "RedisBackoffMax: must be at least RedisBackoff"},
		{func(c *Config) { c.Block = time.Microsecond }, "Block: must be at least 1ms"},
	}
	for _, b := range bad {
		c := ok()
		b.edit(&c)
		_, err := New(c)
		require.ErrorIs(t, err, ErrConfig)
		require.ErrorContains(t, err, b.want)
	}
}

func TestBackoffs(t *testing.T) {
	p := &Pool{cfg: Config{RetryBackoff: time.Second, RetryBackoffMax: 5 * time.Second,
		RedisBackoff: 100 * time.Millisecond, RedisBackoffMax: time.Second}}
	require.Equal(t, time.Second, p.retryBackoff(1))
	require.Equal(t, 2*time.Second, p.retryBackoff(2))
	require.Equal(t, 4*time.Second, p.retryBackoff(3))
	require.Equal(t, 5*time.Second, p.retryBackoff(4))
	require.Equal(t, 5*time.Second, p.retryBackoff(60))
	for n := 1; n < 10; n++ {
		d := p.redisBackoff(n)
		require.LessOrEqual(t, d, time.Second)
		require.GreaterOrEqual(t, d, 80*time.Millisecond)
	}
}
