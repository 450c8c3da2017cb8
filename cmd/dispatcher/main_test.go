package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/config"
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

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
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
	require.Regexp(t, `(?m)^  status +cluster state`, out)
	code, _, stderr := run(t, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `unknown command "frobnicate"`)
	code, _, _ = run(t, "serve", "-h")
	require.Equal(t, 0, code)
}

// TestTopLevelHelpListsEveryCommand: `dispatcher --help` (and -h, help)
// lists every command on one line with its summary, and nothing of serve's
// flags.
func TestTopLevelHelpListsEveryCommand(t *testing.T) {
	require.ElementsMatch(t, commandOrder, keysOf(commands), "every command is in the help's order, once")
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, stderr := run(t, args...)
		require.Equal(t, 0, code, "%v", args)
		require.Empty(t, stderr)
		for _, name := range commandOrder {
			lines := regexp.MustCompile(`(?m)^  `+name+` +(\S.*)$`).FindAllStringSubmatch(out, -1)
			require.Len(t, lines, 1, "%v: one line for %s in:\n%s", args, name, out)
			require.True(t, strings.HasPrefix(lines[0][1], commands[name].summary), "%s: %q", name, lines[0][1])
		}
		require.NotContains(t, out, "-lease-ttl", "the top level lists commands, not serve's flags")
		require.Less(t, strings.Count(out, "\n"), 20, "short:\n%s", out)
	}
}

// TestEveryCommandHasItsOwnHelp: `dispatcher CMD --help` works without any
// configuration (here a broken one), exits 0, and lists the command's own
// flags with their defaults, and only those.
func TestEveryCommandHasItsOwnHelp(t *testing.T) {
	for k, v := range map[string]string{"BOT_TOKEN": "not-a-token", "REDIS_URL": "nonsense://", "LEASE_TTL": "abc",
		"SANDBOX": "false", "LISTEN_ADDR": freeAddr(t)} {
		t.Setenv(k, v)
	}
	own := map[string][]string{
		"serve":   {"-lease-ttl DURATION", "-workers N", "-redis-url TEXT", "-sandbox ", "-admin-ids LIST"},
		"status":  {"-json ", "-redis-url TEXT", "-redis-namespace TEXT"},
		"trace":   {"-json ", "-redis-url TEXT"},
		"dlq":     {"-json ", "-all ", "-limit N", "-redis-url TEXT"},
		"webhook": {"-max-connections N", "-drop-pending "},
		"smoke":   nil,
		"version": nil,
	}
	defaults := map[string][]string{
		"serve":   {"(LEASE_TTL, default 10s)", "(WORKERS, default 16)", "(LISTEN_ADDR, default :8080)", "(DEDUPE_WINDOW, default 1h)", "(INSTANCE_ID, default HOSTNAME-PID)"},
		"status":  {"(REDIS_NAMESPACE, default tgd)"},
		"dlq":     {"(default 100)"},
		"webhook": {"(default 40)"},
	}
	for _, name := range commandOrder {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
			code, out, stderr := run(t, args...)
			require.Equal(t, 0, code, "%v: %s", args, stderr)
			require.Empty(t, stderr, "%v", args)
			require.True(t, strings.HasPrefix(out, "usage: dispatcher "+name), "%v:\n%s", args, out)
			for _, f := range own[name] {
				require.Contains(t, out, "  "+f, "%v", args)
			}
			for _, d := range defaults[name] {
				require.Contains(t, out, d, "%v", args)
			}
			flags := regexp.MustCompile(`(?m)^  -`).FindAllString(out, -1)
			switch name {
			case "serve":
				require.Len(t, flags, len(configVarNames()), "serve: one flag per setting")
			case "status", "trace":
				require.Len(t, flags, 1+len(opsVars), "%s: --json and where Redis is, nothing else:\n%s", name, out)
			case "smoke", "version":
				require.NotContains(t, out, "flags:", name)
			}
			if name != "serve" {
				require.NotContains(t, out, "-lease-ttl", "%s shows its own flags only", name)
				require.NotContains(t, out, "-workers", "%s shows its own flags only", name)
			}
		}
	}
	// a help flag anywhere before "--" is help, even after other arguments
	code, out, _ := run(t, "dlq", "replay", "--help")
	require.Equal(t, 0, code)
	require.True(t, strings.HasPrefix(out, "usage: dispatcher dlq list"), out)
}

// TestUsageErrorIsOneLineAndAHint: a bad command line prints one line that
// names the flag or argument and why, then one line pointing to the help,
// and exits 2; no configuration or Redis is needed to say so.
func TestUsageErrorIsOneLineAndAHint(t *testing.T) {
	t.Setenv("LISTEN_ADDR", freeAddr(t))
	for _, tc := range []struct {
		args       []string
		msg, help  string
		extraCheck func(string)
	}{
		{[]string{"status", "--bogus"}, "status: flag provided but not defined: -bogus", "status", nil},
		{[]string{"serve", "-no-such-flag"}, "serve: flag provided but not defined: -no-such-flag", "serve", nil},
		{[]string{"-no-such-flag"}, "serve: flag provided but not defined: -no-such-flag", "serve", nil},
		{[]string{"serve", "extra"}, `serve takes no arguments, got "extra"`, "serve", nil},
		{[]string{"serve", "-workers", "lots"}, `serve: invalid value "lots" for flag -workers: WORKERS: must be an integer, got "lots"`, "serve", nil},
		{[]string{"trace"}, "trace takes one CID (8 hex characters), got 0 arguments", "trace", nil},
		{[]string{"trace", "nothex!!"}, `trace: "nothex!!" is not a cid (8 lowercase hex characters)`, "trace", nil},
		{[]string{"trace", "a1b2c3d4", "--json=maybe"}, `trace: invalid boolean value "maybe" for -json: parse error`, "trace", nil},
		{[]string{"dlq"}, "dlq needs a subcommand: list, replay or drop", "dlq", nil},
		{[]string{"dlq", "frob"}, `unknown dlq subcommand "frob" (list, replay or drop)`, "dlq", nil},
		{[]string{"dlq", "list", "--limit"}, "dlq: flag needs an argument: -limit", "dlq", nil},
		{[]string{"dlq", "replay"}, "dlq replay takes dead-letter ids or --all (not both)", "dlq", nil},
		{[]string{"webhook"}, "webhook needs a subcommand: set, info or delete", "webhook", nil},
		{[]string{"webhook", "set"}, "webhook set takes one URL (or WEBHOOK_URL), got 0 arguments", "webhook", nil},
		{[]string{"smoke", "now"}, `smoke takes no arguments, got "now"`, "smoke", nil},
		{[]string{"version", "--short"}, "version: flag provided but not defined: -short", "version", nil},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, "", nil},
		{[]string{"help", "frobnicate"}, `help: unknown command "frobnicate"`, "", nil},
	} {
		code, out, stderr := run(t, tc.args...)
		require.Equal(t, 2, code, "%v: %s", tc.args, stderr)
		require.Empty(t, out, "%v", tc.args)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		require.Len(t, lines, 2, "%v: one line and a hint: %q", tc.args, stderr)
		require.Equal(t, "dispatcher: "+tc.msg, lines[0], "%v", tc.args)
		hint := "run 'dispatcher --help' for the commands"
		if tc.help != "" {
			hint = "run 'dispatcher " + tc.help + " --help' for its flags and arguments"
		}
		require.Equal(t, hint, lines[1], "%v", tc.args)
	}
}

func TestOpsCommandsNeedARedis(t *testing.T) {
	for _, v := range []string{"REDIS_URL", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS", "REDIS_SENTINEL_MASTER", "BOT_TOKEN", "SANDBOX"} {
		t.Setenv(v, "")
	}
	// no sandbox instance answers there either
	addr := freeAddr(t)
	t.Setenv("LISTEN_ADDR", addr)
	for _, cmd := range [][]string{{"status"}, {"trace", "a1b2c3d4"}, {"dlq", "list"}} {
		code, _, stderr := run(t, cmd...)
		require.Equal(t, 2, code, "%v", cmd)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.Contains(t, stderr, "dispatcher: REDIS_URL: "+cmd[0]+" reads Redis: set REDIS_URL", "%v", cmd)
		require.Contains(t, stderr, "or start the sandbox (make run) on LISTEN_ADDR "+addr, "%v", cmd)
	}
	code, _, stderr := run(t, "webhook", "info")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "BOT_TOKEN:")
	code, _, _ = run(t, "dlq")
	require.Equal(t, 2, code)
}

func TestMoveFlagsFirst(t *testing.T) {
	fs := quietFlagSet("x")
	fs.Bool("json", false, "")
	fs.Int("max-connections", 1, "")
	fs.Int("limit", 1, "")
	moved := func(args ...string) []string {
		out, err := moveFlagsFirst(fs, args)
		require.NoError(t, err)
		return out
	}
	require.Equal(t, []string{"--json", "--", "a1b2c3d4"}, moved("a1b2c3d4", "--json"))
	require.Equal(t, []string{"--max-connections", "10", "--", "https://x"}, moved("https://x", "--max-connections", "10"))
	require.Equal(t, []string{"-limit=5", "--", "x"}, moved("x", "-limit=5"))
	require.Equal(t, []string{"--", "a", "-b"}, moved("--", "a", "-b"))
	require.Equal(t, []string{"--json", "--", "replay", "0/1-0"}, moved("replay", "--json", "0/1-0"), "a boolean flag takes no value")
	require.Equal(t, []string{"--json"}, moved("--json"))
	_, err := moveFlagsFirst(fs, []string{"list", "--limit"})
	require.EqualError(t, err, "flag needs an argument: -limit")
}

func TestLocalAddr(t *testing.T) {
	require.Equal(t, "localhost:8080", localAddr(":8080"))
	require.Equal(t, "localhost:8080", localAddr("0.0.0.0:8080"))
	require.Equal(t, "localhost:8080", localAddr("[::]:8080"))
	require.Equal(t, "127.0.0.1:9000", localAddr("127.0.0.1:9000"))
	require.Equal(t, "bot.internal:80", localAddr("bot.internal:80"))
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func configVarNames() []string {
	var out []string
	for _, v := range config.Vars() {
		out = append(out, v.Env)
	}
	return out
}
