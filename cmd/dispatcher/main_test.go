package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// run runs one command line in-process and returns its exit code, stdout
// and stderr as main would produce them.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), args, &stdout, &stderr)
	code := exitCode(err, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestBadConfigurationExits2NamingTheVariable(t *testing.T) {
	t.Setenv("LEASE_TTL", "abc")
	code, _, stderr := run(t, "serve")
	require.Equal(t, 2, code)
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	require.Contains(t, stderr, `LEASE_TTL: must be a Go duration such as 500ms or 10s, got "abc"`)

	t.Setenv("LEASE_TTL", "200ms")
	code, _, stderr = run(t)
	require.Equal(t, 2, code, "serve is the default command")
	require.Contains(t, stderr, "LEASE_TTL: must be at least 1s, got 200ms")
}

func TestBadFlagExits2(t *testing.T) {
	code, _, stderr := run(t, "serve", "-workers", "lots")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "WORKERS: must be an integer")
	code, _, _ = run(t, "serve", "-no-such-flag")
	require.Equal(t, 2, code)
	code, _, _ = run(t, "serve", "extra")
	require.Equal(t, 2, code)
}

func TestUsageAndVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	require.Equal(t, 0, code)
	require.True(t, strings.HasPrefix(out, "dispatcher "), out)
	code, out, _ = run(t, "help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "status [--json]")
	code, _, stderr := run(t, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `unknown command "frobnicate"`)
	code, _, _ = run(t, "serve", "-h")
	require.Equal(t, 0, code)
}

func TestOpsCommandsNeedASharedRedis(t *testing.T) {
	for _, v := range []string{"REDIS_URL", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS", "REDIS_SENTINEL_MASTER", "BOT_TOKEN", "SANDBOX"} {
		t.Setenv(v, "")
	}
	for _, cmd := range [][]string{{"status"}, {"trace", "a1b2c3d4"}, {"dlq", "list"}} {
		code, _, stderr := run(t, cmd...)
		require.Equal(t, 2, code, "%v", cmd)
		require.Contains(t, stderr, "REDIS_URL:", "%v", cmd)
	}
	code, _, stderr := run(t, "webhook", "info")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "BOT_TOKEN:")
	code, _, _ = run(t, "dlq")
	require.Equal(t, 2, code)
}

func TestMoveFlagsFirst(t *testing.T) {
	require.Equal(t, []string{"--json", "a1b2c3d4"}, moveFlagsFirst([]string{"a1b2c3d4", "--json"}))
	require.Equal(t, []string{"--max-connections", "10", "https://x"}, moveFlagsFirst([]string{"https://x", "--max-connections", "10"}))
	require.Equal(t, []string{"-limit=5", "x"}, moveFlagsFirst([]string{"x", "-limit=5"}))
	require.Equal(t, []string{"a", "-b"}, moveFlagsFirst([]string{"--", "a", "-b"}))
}
