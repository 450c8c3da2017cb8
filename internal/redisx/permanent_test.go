package redisx_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
)

// answer is an error as go-redis returns Redis' own answers.
type answer string

func (a answer) Error() string { return string(a) }
func (answer) RedisError()     {}

func TestPermanentAnswersAreConfigurationErrors(t *testing.T) {
	for _, msg := range []string{
		"WRONGPASS invalid username-password pair or user is disabled.",
		"NOAUTH Authentication required.",
		"NOPERM this user has no permissions to access one of the keys used as arguments",
		"NOPERM this user has no permissions to run the 'evalsha' command",
		"ERR DB index is out of range",
		"ERR invalid DB index",
		"ERR SELECT is not allowed in cluster mode",
		"ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
		"ERR Client sent AUTH, but no password is set",
		"ERR invalid password",
	} {
		err := fmt.Errorf("lease: register a: %w", answer(msg))
		require.True(t, redisx.Permanent(err), msg)
		cfg := config.Default()
		cfg.RedisURL = "redis://u:secret@db:6379/3"
		perr := redisx.PermanentError(&cfg, err)
		require.True(t, errors.Is(perr, config.ErrInvalid))
		require.Equal(t, "REDIS_URL: Redis refuses it on every try: "+msg, perr.Error())
	}
	for _, err := range []error{
		answer("LOADING Redis is loading the dataset in memory"),
		answer("READONLY You can't write against a read only replica."),
		answer("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
		answer("CLUSTERDOWN The cluster is down"),
		answer("TRYAGAIN Multiple keys request during rehashing of slot"),
		answer("BUSY Redis is busy running a script."),
		errors.New("dial tcp 127.0.0.1:6379: connect: connection refused"),
		context.DeadlineExceeded,
		errors.New("WRONGPASS but not from Redis"), // only Redis' answers count
		nil,
	} {
		require.False(t, redisx.Permanent(err), "%v", err)
		require.NoError(t, redisx.PermanentError(&config.Config{}, err))
	}
}

func TestConfigVarNamesTheRedisOfTheConfiguration(t *testing.T) {
	require.Equal(t, "REDIS_URL", redisx.ConfigVar(&config.Config{RedisURL: "redis://x"}))
	require.Equal(t, "REDIS_CLUSTER_ADDRS", redisx.ConfigVar(&config.Config{RedisClusterAddrs: []string{"a:1"}}))
	require.Equal(t, "REDIS_SENTINEL_ADDRS", redisx.ConfigVar(&config.Config{RedisSentinelAddrs: []string{"a:1"}, RedisSentinelMaster: "m"}))
}
