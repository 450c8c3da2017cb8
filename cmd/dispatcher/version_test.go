package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
)

// ldflagsRE finds the -ldflags "..." of a go build command line.
var ldflagsRE = regexp.MustCompile(`-ldflags "([^"]*)"`)

// buildWith links cmd/dispatcher with ldflags into dir and returns the
// binary. The flags are the build path's own; -trimpath and CGO_ENABLED=0
// are left out so that the test reuses the build cache (they do not change
// what -X sets).
func buildWith(t *testing.T, dir, ldflags string) string {
	t.Helper()
	bin := filepath.Join(dir, "dispatcher")
	cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func versionOf(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// TestEveryBuildPathSetsTheVersion: the version `make build` and the
// Dockerfile link in is what `dispatcher version` prints and what every
// instance's heartbeat carries, so `dispatcher status` shows it in its
// VERSION column (it said "dev" for every instance: the Makefile and the
// Dockerfile set main.version, and the server read a variable of its own).
// go install and a plain go build read the build information instead
// (internal/version's tests).
func TestEveryBuildPathSetsTheVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	// make build, as `make build VERSION=... COMMIT=...` would run it
	out, err := exec.Command("make", "-s", "-n", "-C", "../..", "build", "VERSION=v9.9.9-make", "COMMIT=c0ffee1", "BIN=bin/x").Output()
	require.NoError(t, err)
	m := ldflagsRE.FindStringSubmatch(string(out))
	require.NotNil(t, m, "make -n build: %s", out)
	makeBin := buildWith(t, t.TempDir(), m[1])
	require.Regexp(t, `^dispatcher v9\.9\.9-make \(commit c0ffee1, go1\.\d+`, versionOf(t, makeBin))

	// the Dockerfile's build, with its build arguments
	docker, err := os.ReadFile("../../deploy/Dockerfile")
	require.NoError(t, err)
	m = ldflagsRE.FindStringSubmatch(string(docker))
	require.NotNil(t, m, "deploy/Dockerfile has no -ldflags")
	flags := strings.NewReplacer("${VERSION}", "v9.9.9-docker", "${COMMIT}", "d0cce41").Replace(m[1])
	require.Regexp(t, `^dispatcher v9\.9\.9-docker \(commit d0cce41, go1\.\d+`, versionOf(t, buildWith(t, t.TempDir(), flags)))

	// the running instance says the same: its heartbeat, read by status
	// (from the sandbox instance's embedded Redis)
	// (it binds a port of its own and says which: a port picked here and
	// closed could be taken by another test's process before serve binds it)
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	srv := exec.Command(makeBin, "serve")
	srv.Env = append(slices.Clone(base), "LISTEN_ADDR=127.0.0.1:0")
	var logs logtest.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	addr, ok := proctest.WaitAddr(15*time.Second, logs.String)
	require.True(t, ok, "serve never said the address it bound: %s", logs.String())
	env := append(slices.Clone(base), "LISTEN_ADDR="+addr)
	var status string
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := exec.Command(makeBin, "status")
		st.Env = env
		b, err := st.CombinedOutput()
		status = string(b)
		if err == nil && strings.Contains(status, " v9.9.9-make ") {
			break
		}
		require.True(t, time.Now().Before(deadline), "status never showed the version: %s", status)
		time.Sleep(100 * time.Millisecond) // polling a condition with a deadline
	}
	require.Regexp(t, `(?m)^INSTANCE +ROLE +SHARDS +MODE +BOT +ADDR +VERSION`, status)
	t.Logf("dispatcher status:\n%s", status)
}
