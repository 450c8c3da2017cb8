package config

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const token = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"

func TestDefaultsMatchContract(t *testing.T) {
	c, err := FromEnv(env(nil))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.True(t, c.Sandbox, "no BOT_TOKEN means sandbox")
	require.Equal(t, "https://api.telegram.org", c.TelegramAPIURL)
	require.Equal(t, ":8080", c.ListenAddr)
	require.Equal(t, "/webhook", c.WebhookPath)
	require.Equal(t, "tgd", c.Namespace)
	require.Equal(t, 1, c.Shards)
	require.Equal(t, 16, c.Workers)
	require.Equal(t, 10*time.Second, c.LeaseTTL)
	require.Equal(t, 30*time.Second, c.HandlerTimeout)
	require.Equal(t, 20*time.Second, c.ShutdownTimeout)
	require.Equal(t, 5, c.MaxDeliveries)
	require.Equal(t, 100000, c.MaxBacklog)
	require.Equal(t, time.Hour, c.DedupeWindow)
	require.Equal(t, "json", c.LogFormat)
	require.Equal(t, "info", c.LogLevel)
	require.True(t, c.SilenceGuard)
	require.True(t, c.Embedded())
	require.NotEmpty(t, c.InstanceID)
}

func TestEnvironmentOverlay(t *testing.T) {
	c, err := FromEnv(env(map[string]string{
		"BOT_TOKEN": token, "WEBHOOK_SECRET": "s3cret_-", "SHARDS": "6", "LEASE_TTL": "2s",
		"ADMIN_IDS": "1, 2,3", "REDIS_CLUSTER_ADDRS": "a:1,b:2", "SILENCE_GUARD": "false", "LOG_FORMAT": "kv",
	}))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.False(t, c.Sandbox, "a token turns sandbox off")
	require.Equal(t, 6, c.Shards)
	require.Equal(t, 2*time.Second, c.LeaseTTL)
	require.Equal(t, []int64{1, 2, 3}, c.AdminIDs)
	require.True(t, c.IsAdmin(2))
	require.False(t, c.IsAdmin(4))
	require.Equal(t, []string{"a:1", "b:2"}, c.RedisClusterAddrs)
	require.False(t, c.SilenceGuard)
	require.ElementsMatch(t, []string{token, "s3cret_-"}, c.Secrets())
}

func TestFlagWinsOverEnvironment(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"LEASE_TTL": "5s", "WORKERS": "4"}))
	require.NoError(t, err)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.BindFlags(fs)
	require.NoError(t, fs.Parse([]string{"-lease-ttl", "3s", "-listen-addr", "127.0.0.1:9999"}))
	require.Equal(t, 3*time.Second, c.LeaseTTL)
	require.Equal(t, 4, c.Workers)
	require.Equal(t, "127.0.0.1:9999", c.ListenAddr)

	err = fs.Parse([]string{"-workers", "many"})
	require.ErrorContains(t, err, `WORKERS: must be an integer, got "many"`)
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"LEASE_TTL": "abc"}, `LEASE_TTL: must be a Go duration`},
		{map[string]string{"LEASE_TTL": "200ms"}, `LEASE_TTL: must be at least 1s, got 200ms`},
		{map[string]string{"SHARDS": "0"}, `SHARDS: must be between 1 and 1024, got 0`},
		{map[string]string{"WORKERS": "x"}, `WORKERS: must be an integer`},
		{map[string]string{"LOG_FORMAT": "xml"}, `LOG_FORMAT: must be json or kv`},
		{map[string]string{"LOG_LEVEL": "trace"}, `LOG_LEVEL:`},
		{map[string]string{"SANDBOX": "maybe"}, `SANDBOX: must be true or false`},
		{map[string]string{"ADMIN_IDS": "1,x"}, `ADMIN_IDS: must be comma-separated integers`},
		{map[string]string{"SANDBOX": "false"}, `BOT_TOKEN: required unless SANDBOX=true`},
		{map[string]string{"BOT_TOKEN": "nope"}, `BOT_TOKEN: is not a bot token`},
		{map[string]string{"BOT_TOKEN": token}, `WEBHOOK_SECRET: required unless`},
		{map[string]string{"WEBHOOK_SECRET": "has space"}, `WEBHOOK_SECRET: must be 1-256 characters`},
		{map[string]string{"WEBHOOK_PATH": "webhook"}, `WEBHOOK_PATH: must start with /`},
		{map[string]string{"WEBHOOK_PATH": "/metrics"}, `WEBHOOK_PATH: /metrics is an ops endpoint`},
		{map[string]string{"REDIS_URL": "http://x"}, `REDIS_URL: must be a redis://`},
		{map[string]string{"REDIS_URL": "redis://a:1", "REDIS_CLUSTER_ADDRS": "b:1"}, `REDIS_URL: set only one`},
		{map[string]string{"REDIS_SENTINEL_ADDRS": "a:1"}, `REDIS_SENTINEL_MASTER: required`},
		{map[string]string{"REDIS_PASSWORD": "p"}, `REDIS_PASSWORD: applies to a shared Redis`},
		{map[string]string{"REDIS_URL": "redis://u:p@a:1", "REDIS_PASSWORD": "q"}, `REDIS_PASSWORD: REDIS_URL carries a password too`},
		{map[string]string{"REDIS_CLUSTER_ADDRS": "a:1", "REDIS_USERNAME": "u"}, `REDIS_USERNAME: needs REDIS_PASSWORD`},
		{map[string]string{"REDIS_CLUSTER_ADDRS": "a:1", "REDIS_SENTINEL_PASSWORD": "s"}, `REDIS_SENTINEL_PASSWORD: applies to Sentinel only`},
		{map[string]string{"REDIS_CLUSTER_ADDRS": "a:1", "REDIS_TLS_CA_FILE": "ca.pem"}, `REDIS_TLS_CA_FILE: set REDIS_TLS=true`},
		{map[string]string{"REDIS_TLS": "yes please"}, `REDIS_TLS: must be true or false`},
		{map[string]string{"REDIS_NAMESPACE": "a{b}"}, `REDIS_NAMESPACE:`},
		{map[string]string{"MAX_DELIVERIES": "0"}, `MAX_DELIVERIES:`},
		{map[string]string{"DEDUPE_WINDOW": "10ms"}, `DEDUPE_WINDOW:`},
		{map[string]string{"HANDLER_TIMEOUT": "1ms"}, `HANDLER_TIMEOUT:`},
		{map[string]string{"LISTEN_ADDR": "8080"}, `LISTEN_ADDR:`},
		{map[string]string{"INGEST": "pull"}, `INGEST: must be webhook or poll, got "pull"`},
		{map[string]string{"STREAM_FORMAT": "packed"}, `STREAM_FORMAT: must be auto or fields, got "packed"`},
		{map[string]string{"POLL_TIMEOUT": "1500ms"}, `POLL_TIMEOUT: must be whole seconds`},
		{map[string]string{"POLL_TIMEOUT": "10m"}, `POLL_TIMEOUT: must be between 0s and 5m, got 10m0s`},
		{map[string]string{"JOURNAL_MAX_MEMORY": "lots"}, `JOURNAL_MAX_MEMORY: must be a size such as 256MiB`},
		{map[string]string{"JOURNAL_MAX_MEMORY": "512KiB"}, `JOURNAL_MAX_MEMORY: must be at least 1MiB, got 512KiB`},
		{map[string]string{"JOURNAL_REDIS_URL": "http://x"}, `JOURNAL_REDIS_URL: must be a redis://`},
		{map[string]string{"WEBHOOK_PATH": "/ops"}, `WEBHOOK_PATH: /ops is the ops page`},
		{map[string]string{"WEBHOOK_PATH": "/ops/hook"}, `WEBHOOK_PATH: /ops is the ops page`},
		{map[string]string{"OPS_TOKEN": "short"}, `OPS_TOKEN: must be 16-256 characters without spaces`},
		{map[string]string{"OPS_TOKEN": "sixteen chars ok ok"}, `OPS_TOKEN: must be 16-256 characters without spaces`},
	}
	for _, tc := range cases {
		c, err := FromEnv(env(tc.env))
		if err == nil {
			err = c.Validate()
		}
		require.Error(t, err, "%v", tc.env)
		require.True(t, errors.Is(err, ErrInvalid), "%v: %v", tc.env, err)
		require.True(t, strings.HasPrefix(err.Error(), tc.want), "%v: got %q, want prefix %q", tc.env, err, tc.want)
		require.NotContains(t, err.Error(), "\n")
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	bad := "12345:short-secret-token-value"
	c, err := FromEnv(env(map[string]string{"BOT_TOKEN": bad}))
	require.NoError(t, err)
	err = c.Validate()
	require.Error(t, err)
	require.NotContains(t, err.Error(), bad)
}

// TestOpsTokenIsASecret: OPS_TOKEN is redacted from every output like the
// bot token, and never echoed in its error.
func TestOpsTokenIsASecret(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"OPS_TOKEN": "0123456789abcdef0123"}))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Contains(t, c.Secrets(), "0123456789abcdef0123")
	c.OpsToken = "tooshort"
	require.NotContains(t, c.Validate().Error(), "tooshort")
	for _, v := range Vars() {
		if v.Env == "OPS_TOKEN" {
			require.True(t, v.Secret)
		}
	}
}

func TestEveryVarHasAFlag(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range Vars() {
		require.NotEmpty(t, v.Flag)
		require.False(t, seen[v.Env], v.Env)
		seen[v.Env] = true
		c := Default()
		_, ok := c.Value(v.Env)
		require.True(t, ok)
	}
	for _, name := range []string{"BOT_TOKEN", "TELEGRAM_API_URL", "SANDBOX", "WEBHOOK_SECRET", "LISTEN_ADDR",
		"WEBHOOK_PATH", "REDIS_URL", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS", "REDIS_SENTINEL_MASTER",
		"REDIS_NAMESPACE", "INSTANCE_ID", "SHARDS", "WORKERS", "LEASE_TTL", "HANDLER_TIMEOUT", "SHUTDOWN_TIMEOUT",
		"MAX_DELIVERIES", "MAX_BACKLOG", "DEDUPE_WINDOW", "LOG_FORMAT", "LOG_LEVEL", "SILENCE_GUARD", "ADMIN_IDS"} {
		require.True(t, seen[name], "CONTRACT §2 variable %s missing", name)
	}
}

// TestPollNeedsNoWebhookSecret: with INGEST=poll nothing is served at the
// webhook path, so a bot with a token needs no WEBHOOK_SECRET.
func TestPollNeedsNoWebhookSecret(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"BOT_TOKEN": token, "INGEST": "poll"}))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, IngestPoll, c.Ingest)
	require.Equal(t, 30*time.Second, c.PollTimeout, "the default")
	d := Default()
	require.Equal(t, IngestWebhook, d.Ingest)
}

func TestEmptyMeansUnset(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"SANDBOX": "", "LEASE_TTL": "", "LISTEN_ADDR": "", "BOT_TOKEN": ""}))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.True(t, c.Sandbox)
	require.Equal(t, 10*time.Second, c.LeaseTTL)
	require.Equal(t, ":8080", c.ListenAddr)
}

func TestJournalSizes(t *testing.T) {
	c := Default()
	require.Equal(t, int64(256<<20), c.JournalMaxMemory)
	v, ok := c.Value("JOURNAL_MAX_MEMORY")
	require.True(t, ok)
	require.Equal(t, "256MiB", v)
	for in, want := range map[string]int64{"256MiB": 256 << 20, "2gib": 2 << 30, "4M": 4 << 20, "500MB": 500e6,
		"1GB": 1e9, " 3 MiB ": 3 << 20, "1048576": 1 << 20, "64KiB": 64 << 10, "7B": 7} {
		n, err := ParseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, n, in)
	}
	for _, in := range []string{"", "MiB", "-1MiB", "1.5GiB", "10 parsecs", "99999999999TiB"} {
		_, err := ParseSize(in)
		require.Error(t, err, in)
	}
	require.Equal(t, "3GiB", FormatSize(3<<30))
	require.Equal(t, "1000000B", FormatSize(1e6))
	c, err := FromEnv(env(map[string]string{"JOURNAL_MAX_MEMORY": "8MiB", "JOURNAL_REDIS_URL": "redis://journal:6379/2"}))
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, int64(8<<20), c.JournalMaxMemory)
	require.Equal(t, "redis://journal:6379/2", c.JournalRedisURL)
}

// TestSandboxOnASharedRedisMustBeExplicit: an empty BOT_TOKEN means sandbox
// mode, but with a shared Redis serve refuses it unless SANDBOX=true says so
// (issue 24); the embedded Redis needs nothing.
func TestSandboxOnASharedRedisMustBeExplicit(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"REDIS_URL": "redis://r:6379/0"}))
	require.NoError(t, err)
	require.NoError(t, c.Validate(), "status, trace and dlq need no BOT_TOKEN")
	err = c.CheckSandbox()
	require.ErrorIs(t, err, ErrInvalid)
	require.True(t, strings.HasPrefix(err.Error(), "SANDBOX: BOT_TOKEN is empty"), err.Error())

	c, err = FromEnv(env(map[string]string{"REDIS_URL": "redis://r:6379/0", "SANDBOX": "true"}))
	require.NoError(t, err)
	require.NoError(t, c.CheckSandbox(), "SANDBOX=true means it")

	c, err = FromEnv(env(nil))
	require.NoError(t, err)
	require.NoError(t, c.CheckSandbox(), "the embedded Redis holds no other deployment")

	c, err = FromEnv(env(map[string]string{"REDIS_URL": "redis://r:6379/0"}))
	require.NoError(t, err)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.BindFlags(fs)
	require.NoError(t, fs.Parse([]string{"-sandbox"}))
	require.NoError(t, c.CheckSandbox(), "the -sandbox flag means it too")
}

func TestWebhookCheckSettings(t *testing.T) {
	c := Default()
	c.Sandbox = true
	require.Equal(t, time.Minute, c.WebhookCheckInterval)
	c.WebhookURL = "http://example.com/webhook"
	require.ErrorContains(t, c.Validate(), "WEBHOOK_URL: must be an https:// URL")
	c.WebhookURL = "https://bot.example.com/webhook"
	require.NoError(t, c.Validate())
	c.WebhookCheckInterval = 10 * time.Millisecond
	require.ErrorContains(t, c.Validate(), "WEBHOOK_CHECK_INTERVAL")
	c.WebhookCheckInterval = 0
	require.NoError(t, c.Validate(), "0 turns the check off")
}
