package browsertest

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMissingBrowser: without a browser a test is skipped with a message
// saying how to get one, and fails instead under DISPATCHER_REQUIRE_CHROMIUM=1
// (make test, CI). It runs itself as a child with an empty PATH.
func TestMissingBrowser(t *testing.T) {
	if os.Getenv("BROWSERTEST_CHILD") == "1" {
		Path(t)
		t.Fatal("Path returned without a browser")
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, EnvPath+"=") && !strings.HasPrefix(kv, EnvRequire+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+t.TempDir(), "BROWSERTEST_CHILD=1")
	child := func(strict string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingBrowser$", "-test.v", "-test.count=1")
		cmd.Env = append(append([]string(nil), env...), EnvRequire+"="+strict)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := child("")
	require.NoError(t, err, out)
	require.Contains(t, out, "--- SKIP")
	require.Contains(t, out, "apt-get install -y chromium")

	out, err = child("1")
	require.Error(t, err, out)
	require.Contains(t, out, "--- FAIL")
	require.Contains(t, out, "headless Chromium required (DISPATCHER_REQUIRE_CHROMIUM=1)")
}
