package lease

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

func TestDeriveTimings(t *testing.T) {
	require.Equal(t, Timings{
		TTL: 2 * time.Second, RenewEvery: 666666666, RenewRetry: 166666666,
		StepDownAfter: 1333333333, RetryEvery: 400 * time.Millisecond, CallTimeout: 333333333,
	}, DeriveTimings(2*time.Second))
	ten := DeriveTimings(10 * time.Second)
	require.Equal(t, 10*time.Second/6, ten.CallTimeout)
	require.Equal(t, maxCallTimeout, DeriveTimings(time.Minute).CallTimeout, "capped")
	for _, ttl := range []time.Duration{MinTTL, time.Second, 2 * time.Second, 10 * time.Second, 5 * time.Minute} {
		tm := DeriveTimings(ttl)
		require.NoError(t, tm.validate(), ttl)
		// The rules the package documents.
		require.Less(t, tm.CallTimeout, tm.RenewEvery)
		require.Less(t, tm.StepDownAfter, tm.TTL)
		require.GreaterOrEqual(t, tm.StepDownAfter, tm.RenewEvery+tm.CallTimeout)
		// Step-down leaves a third of the TTL before the key can expire.
		require.Equal(t, tm.TTL-tm.TTL*2/3, tm.TTL-tm.StepDownAfter)
	}
}

func TestJitterBounds(t *testing.T) {
	for i := 0; i < 1000; i++ {
		d := jittered(time.Second)
		require.GreaterOrEqual(t, d, 800*time.Millisecond)
		require.Less(t, d, 1200*time.Millisecond)
	}
}

func TestNewManagerRejects(t *testing.T) {
	_, c := redistest.Mini(t)
	valid := func() Config {
		return Config{Client: c, Keys: keys.New("t"), Shards: 1, Instance: "a", TTL: 2 * time.Second,
			Log: telemetry.Nop(), Metrics: metrics.NewTest()}
	}
	_, err := NewManager(valid())
	require.NoError(t, err)
	cases := []struct {
		field string
		edit  func(*Config)
	}{
		{"Client", func(c *Config) { c.Client = nil }},
		{"Keys", func(c *Config) { c.Keys = keys.Space{} }},
		{"Shards", func(c *Config) { c.Shards = 0 }},
		{"Instance", func(c *Config) { c.Instance = "" }},
		{"Log", func(c *Config) { c.Log = nil }},
		{"Metrics", func(c *Config) { c.Metrics = nil }},
		{"Drain", func(c *Config) { c.Drain = -time.Second }},
		{"TTL", func(c *Config) { c.TTL = 0 }},
		{"TTL", func(c *Config) { c.TTL = 10 * time.Millisecond }},
		{"CallTimeout", func(c *Config) { c.CallTimeout = -time.Millisecond }},
		{"RenewEvery", func(c *Config) { c.CallTimeout = time.Second }},
		{"RenewEvery", func(c *Config) { c.RenewEvery = 100 * time.Millisecond }},
		{"StepDownAfter", func(c *Config) { c.StepDownAfter = 2 * time.Second }},
		{"StepDownAfter", func(c *Config) { c.StepDownAfter = 900 * time.Millisecond }},
		{"RenewRetry", func(c *Config) { c.RenewRetry = -1 }},
		{"RenewRetry", func(c *Config) { c.RenewRetry = 1500 * time.Millisecond }},
		{"RetryEvery", func(c *Config) { c.RetryEvery = -1 }},
		{"RetryEvery", func(c *Config) { c.RetryEvery = 3 * time.Second }},
	}
	for _, tc := range cases {
		cfg := valid()
		tc.edit(&cfg)
		_, err := NewManager(cfg)
		require.ErrorIs(t, err, ErrBadConfig, tc.field)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, tc.field, ce.Field, err.Error())
		require.Contains(t, err.Error(), "lease: "+tc.field+": ")
	}
}
