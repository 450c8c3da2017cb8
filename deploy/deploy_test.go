// Package deploy_test checks the deployment files of deploy/ without running
// them (no Docker engine or cluster is needed): every file parses, every
// environment variable a file sets for the dispatcher is one the config
// package declares and its value passes config validation, grace periods
// outlast SHUTDOWN_TIMEOUT, and the monitoring files name only metrics that
// internal/metrics registers (monitoring_test.go). It guards against drift
// between the code and the deployments; it does not prove that a platform
// accepts a file.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/dispatcher-bot/dispatcher/internal/config"
)

// Placeholders for values a deploy file takes from outside (host environment,
// platform secrets): shaped so that config validation accepts them.
const (
	testToken  = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	testSecret = "test-webhook-secret"
	testRedis  = "redis://redis.internal:6379/0"
)

// deployFiles lists every file under deploy/ (the package directory).
func deployFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, filepath.ToSlash(path))
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

// TestEveryFileParses reads every file of deploy/ and parses it by kind. A
// file of a kind this test does not know fails it, so a new file comes with
// a check.
func TestEveryFileParses(t *testing.T) {
	for _, path := range deployFiles(t) {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NotEmpty(t, bytes.TrimSpace(data), "empty file")
			base := filepath.Base(path)
			switch {
			case strings.Contains(path, "/templates/"), base == ".helmignore":
				// Helm templates are not YAML until rendered: deploy/kubetest
				// renders the chart and decodes every object strictly.
			case base == "go.mod", base == "go.sum":
				// the test module deploy/kubetest, checked by the go command
			case strings.HasSuffix(path, ".yml"), strings.HasSuffix(path, ".yaml"):
				docs := yamlDocs(t, path)
				require.NotEmpty(t, docs, "no YAML document")
			case strings.HasSuffix(path, ".json"):
				var v any
				require.NoError(t, json.Unmarshal(data, &v))
			case base == "Dockerfile":
				require.NotEmpty(t, dockerInstructions(t, path))
			case strings.HasSuffix(path, ".conf"):
				checkBraces(t, string(data))
			case strings.HasSuffix(path, ".go"), strings.HasSuffix(path, ".md"):
				// Go is checked by the compiler; Markdown is prose.
			default:
				t.Fatalf("no check for %s: add one to TestEveryFileParses", path)
			}
		})
	}
}

// yamlDocs decodes every document of a YAML file into generic values.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "%s does not parse as YAML", path)
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	return docs
}

func yamlDoc(t *testing.T, path string) map[string]any {
	t.Helper()
	docs := yamlDocs(t, path)
	require.Len(t, docs, 1, "%s: want one YAML document", path)
	return docs[0]
}

// checkBraces is the syntax check available for nginx.conf without nginx:
// braces balance outside comments and quoted strings.
func checkBraces(t *testing.T, text string) {
	t.Helper()
	depth := 0
	for n, line := range strings.Split(text, "\n") {
		inQuote := byte(0)
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case inQuote != 0:
				if c == inQuote {
					inQuote = 0
				}
			case c == '"' || c == '\'':
				inQuote = c
			case c == '#':
				i = len(line)
			case c == '{':
				depth++
			case c == '}':
				depth--
				require.GreaterOrEqual(t, depth, 0, "line %d: unbalanced }", n+1)
			}
		}
	}
	require.Zero(t, depth, "unbalanced braces")
}

// knownVars is the set of environment variables the dispatcher reads.
func knownVars() map[string]bool {
	m := map[string]bool{}
	for _, v := range config.Vars() {
		m[v.Env] = true
	}
	return m
}

// runtimeVars are read by the Go runtime (or, PORT, by Render: the port it
// publishes), not by the dispatcher's config.
var runtimeVars = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true, "PORT": true}

// goMemLimit parses GOMEMLIMIT's syntax: bytes with an optional B, KiB,
// MiB, GiB or TiB suffix.
func goMemLimit(t *testing.T, v string) int64 {
	t.Helper()
	m := regexp.MustCompile(`^(\d+)(B|KiB|MiB|GiB|TiB)?$`).FindStringSubmatch(v)
	require.NotNil(t, m, "GOMEMLIMIT %q is not a Go memory limit", v)
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n << map[string]int{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}[m[2]]
}

// memQuantity parses a Kubernetes quantity or a Compose byte value of
// memory (Ki/Mi/Gi, k/m/g and kb/mb/gb as Compose and Redis write them: 1024
// based; K/M/G: 1000 based as Kubernetes reads them).
func memQuantity(t *testing.T, v string) int64 {
	t.Helper()
	m := regexp.MustCompile(`^(\d+)([A-Za-z]*)$`).FindStringSubmatch(v)
	require.NotNil(t, m, "memory %q", v)
	n, _ := strconv.ParseInt(m[1], 10, 64)
	mult, ok := map[string]int64{"": 1, "b": 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "k": 1 << 10, "m": 1 << 20,
		"g": 1 << 30, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "K": 1e3, "M": 1e6, "G": 1e9}[m[2]]
	require.True(t, ok, "memory %q: unknown unit", v)
	return n * mult
}

// checkMemLimit asserts that GOMEMLIMIT is set from the container limit:
// between 70% and 95% of it.
func checkMemLimit(t *testing.T, where string, env map[string]string, limit int64) {
	t.Helper()
	require.Contains(t, env, "GOMEMLIMIT", "%s: GOMEMLIMIT unset (set it to about 90%% of the memory limit)", where)
	require.Positive(t, limit, "%s: no memory limit", where)
	got := goMemLimit(t, env["GOMEMLIMIT"])
	require.True(t, got >= limit*70/100 && got <= limit*95/100,
		"%s: GOMEMLIMIT %s is %.0f%% of the memory limit %d bytes; want 70-95%%", where, env["GOMEMLIMIT"], 100*float64(got)/float64(limit), limit)
}

// checkEnv asserts that every variable of env is one the dispatcher knows and
// that the whole set passes config validation, and returns the config.
func checkEnv(t *testing.T, where string, env map[string]string) config.Config {
	t.Helper()
	known := knownVars()
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		require.True(t, known[k] || runtimeVars[k], "%s sets %s, which the dispatcher does not read (internal/config Vars)", where, k)
	}
	cfg, err := config.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err, "%s", where)
	require.NoError(t, cfg.Validate(), "%s", where)
	// Several replicas need a shared Redis: the embedded one is per process.
	require.False(t, cfg.Embedded(), "%s: no REDIS_URL, every instance would run its own Redis", where)
	require.False(t, cfg.Sandbox, "%s: runs in sandbox mode", where)
	return cfg
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

func mapOf(t *testing.T, v any, what string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	require.True(t, ok, "%s: want a mapping, got %T", what, v)
	return m
}

func listOf(t *testing.T, v any, what string) []any {
	t.Helper()
	l, ok := v.([]any)
	require.True(t, ok, "%s: want a list, got %T", what, v)
	return l
}

func intOf(t *testing.T, v any, what string) int {
	t.Helper()
	n, ok := v.(int)
	require.True(t, ok, "%s: want an integer, got %T (%v)", what, v, v)
	return n
}
