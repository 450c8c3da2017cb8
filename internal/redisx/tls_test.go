package redisx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

func client(t *testing.T, url string) *redisx.Client {
	t.Helper()
	cfg := config.Default()
	cfg.RedisURL, cfg.InstanceID = url, "tls-test"
	c, err := redisx.New(&cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRedissWithAnACLUserAndAPassword: REDIS_URL=rediss://… reaches a real
// TLS-only redis-server whose certificate is verified (the CA comes from
// SSL_CERT_FILE, as an operator with a private CA would set it), as an ACL
// user or as the default user with its password; scripts and streams work
// over it; a wrong password, plain redis:// to the TLS port and a host the
// certificate does not name are refused.
func TestRedissWithAnACLUserAndAPassword(t *testing.T) {
	srv := redistest.NewTLSServer(t)
	t.Setenv("SSL_CERT_FILE", srv.CAFile) // read at the process's first TLS handshake: this package makes no other
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	c := client(t, srv.URL(srv.User, srv.UserPass))
	require.Equal(t, "single", c.Mode)
	require.NoError(t, redisx.Ping(ctx, c, 2*time.Second))
	who, err := c.Do(ctx, "ACL", "WHOAMI").Text()
	require.NoError(t, err)
	require.Equal(t, srv.User, who)
	n, err := redis.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`).Run(ctx, c, []string{"tls:n"}, 5).Int()
	require.NoError(t, err)
	require.Equal(t, 5, n)
	id, err := c.XAdd(ctx, &redis.XAddArgs{Stream: "tls:s", Values: []any{"uid", "1"}}).Result()
	require.NoError(t, err)
	msgs, err := c.XRange(ctx, "tls:s", "-", "+").Result()
	require.NoError(t, err)
	require.Equal(t, id, msgs[0].ID)

	def := client(t, srv.URL("", srv.Password))
	require.NoError(t, redisx.Ping(ctx, def, 2*time.Second), "the default user with requirepass")
	who, err = def.Do(ctx, "ACL", "WHOAMI").Text()
	require.NoError(t, err)
	require.Equal(t, "default", who)

	err = redisx.Ping(ctx, client(t, srv.URL(srv.User, "wrong")), 2*time.Second)
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "WRONGPASS") || strings.Contains(err.Error(), "invalid"), err.Error())

	plain := "redis://" + srv.User + ":" + srv.UserPass + "@localhost:" + strings.TrimPrefix(srv.Addr(), "127.0.0.1:") + "/0"
	require.Error(t, redisx.Ping(ctx, client(t, plain), 2*time.Second), "plain TCP to the TLS port")

	byIP := strings.Replace(srv.URL(srv.User, srv.UserPass), "localhost", "127.0.0.1", 1)
	err = redisx.Ping(ctx, client(t, byIP), 2*time.Second)
	require.Error(t, err, "the certificate names localhost only: verification is on")
	require.Contains(t, err.Error(), "certificate")
}
