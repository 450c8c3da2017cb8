package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
)

// A README shell block runs in this test when the line before its fence is
//
//	<!-- readme-test[ VAR=value...]: run[, again until its claims hold]; CLAIM; CLAIM... -->
//
// where a CLAIM is `output has "TEXT"` (TEXT a Go string literal: the
// block's output contains it) or `log has key=value key=value...` (the
// service logs a line with those fields, within a few seconds). "again
// until its claims hold" is for a block that only reads: it is run again
// until its output holds (the service works asynchronously). Blocks whose
// marker names settings (`readme-test INGEST=poll: ...`) run, in order, in a
// walkthrough of their own against a `serve` with those settings. Blocks
// without the marker are not run, so other sections of the README can show
// any command.
var readmeMarker = regexp.MustCompile(`^<!-- readme-test((?: [A-Z_]+=[^ :]+)*): (.*) -->$`)

// readmeBlock is one marked shell block of the README.
type readmeBlock struct {
	line   int    // of the fence
	env    string // the settings of its walkthrough ("" for make run's), e.g. "INGEST=poll"
	script string
	again  bool
	output []string            // texts the output must contain
	logs   []map[string]string // lines the service must log
}

func parseReadme(t *testing.T, text string) []readmeBlock {
	t.Helper()
	lines := strings.Split(text, "\n")
	var blocks []readmeBlock
	for i := 0; i < len(lines); i++ {
		m := readmeMarker.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		b := readmeBlock{line: i + 2, env: strings.TrimSpace(m[1])}
		clauses := strings.Split(m[2], "; ")
		switch clauses[0] {
		case "run":
		case "run, again until its claims hold":
			b.again = true
		default:
			t.Fatalf("README.md:%d: readme-test marker must start with run: %q", i+1, m[2])
		}
		for _, c := range clauses[1:] {
			switch {
			case strings.HasPrefix(c, "output has "):
				s, err := strconv.Unquote(strings.TrimPrefix(c, "output has "))
				require.NoError(t, err, "README.md:%d: %q", i+1, c)
				b.output = append(b.output, s)
			case strings.HasPrefix(c, "log has "):
				fields := map[string]string{}
				for _, kv := range strings.Fields(strings.TrimPrefix(c, "log has ")) {
					k, v, ok := strings.Cut(kv, "=")
					require.True(t, ok, "README.md:%d: %q", i+1, kv)
					fields[k] = v
				}
				b.logs = append(b.logs, fields)
			default:
				t.Fatalf("README.md:%d: unknown claim %q", i+1, c)
			}
		}
		require.Less(t, i+1, len(lines))
		require.Equal(t, "```sh", lines[i+1], "README.md:%d: a readme-test marker precedes a ```sh block", i+1)
		var body []string
		for i += 2; i < len(lines) && lines[i] != "```"; i++ {
			body = append(body, lines[i])
		}
		b.script = strings.Join(body, "\n")
		blocks = append(blocks, b)
	}
	return blocks
}

// TestReadmeWalkthrough runs the README's marked shell blocks in order, in
// one shell, against the built binary's `serve` with the environment of
// `make run` (sandbox mode, embedded Redis; only LISTEN_ADDR differs, and
// the blocks' localhost:8080 with it), from a directory where
// ./bin/dispatcher is that binary, and checks what the README says of each.
func TestReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the dispatcher binary and a shell")
	}
	mk, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^run: build\n\t\./\$\(BIN\) serve$`, string(mk), "make run is the binary's serve with no settings")
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	blocks := walkthrough(t, string(readme), "")
	require.GreaterOrEqual(t, len(blocks), 8, "the sandbox walkthrough is marked")
	last := blocks[len(blocks)-3:]
	require.Contains(t, last[0].script, "./bin/dispatcher trace", "the walkthrough ends with trace and /debug")
	require.Contains(t, last[1].script, `"text": "/debug 42"`, "the walkthrough ends with trace and /debug")
	runWalkthrough(t, blocks, nil)
}

// TestReadmePollWalkthrough runs the README's long-polling blocks (marked
// readme-test INGEST=poll) the same way, against `INGEST=poll make run`.
func TestReadmePollWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the dispatcher binary and a shell")
	}
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	blocks := walkthrough(t, string(readme), "INGEST=poll")
	require.GreaterOrEqual(t, len(blocks), 3, "the long-polling walkthrough is marked")
	require.Contains(t, blocks[0].script, "/sandbox/updates", "it starts by queueing an update for getUpdates")
	runWalkthrough(t, blocks, []string{"INGEST=poll"})
}

// walkthrough returns the marked blocks of text whose settings are env.
func walkthrough(t *testing.T, text, env string) []readmeBlock {
	var out []readmeBlock
	for _, b := range parseReadme(t, text) {
		if b.env == env {
			out = append(out, b)
		}
	}
	return out
}

// runWalkthrough runs blocks in one shell against the binary's serve with
// the environment of make run plus settings.
func runWalkthrough(t *testing.T, blocks []readmeBlock, settings []string) {
	t.Helper()
	for _, tool := range []string{"sh", "curl", "grep", "cut", "tail"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's blocks need %s", tool)
		}
	}
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "bin"), 0o755))
	require.NoError(t, os.Symlink(proctest.Binary(t), filepath.Join(dir, "bin", "dispatcher")))
	env := append([]string(nil), settings...)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !isSetting(k) {
			env = append(env, kv)
		}
	}

	srv := exec.Command(filepath.Join(dir, "bin", "dispatcher"), "serve")
	// port 0: the kernel picks it, the instance logs it
	srv.Dir, srv.Env = dir, append(append([]string(nil), env...), "LISTEN_ADDR=127.0.0.1:0")
	logs := &logtest.Buffer{}
	out, err := srv.StdoutPipe()
	require.NoError(t, err)
	srv.Stderr = logs
	require.NoError(t, srv.Start())
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			_, _ = logs.Write([]byte(sc.Text() + "\n"))
		}
	}()
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	addr, ok := proctest.WaitAddr(15*time.Second, logs.String)
	require.True(t, ok, "the sandbox reported no address; log:\n%s", logs.String())
	env = append(env, "LISTEN_ADDR="+addr) // the blocks' commands find the sandbox there
	require.True(t, proctest.Eventually(15*time.Second, 50*time.Millisecond, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}), "sandbox not ready; log:\n%s", logs.String())

	sh := newShell(t, dir, env)
	for n, b := range blocks {
		script := strings.ReplaceAll(b.script, "localhost:8080", addr)
		var output string
		var rc string
		holds := func() bool {
			output, rc = sh.run(t, n, script)
			if rc != "0" {
				// a block run again until it holds may fail before it does:
				// trace finds no chain until the journal has written it
				return false
			}
			for _, s := range b.output {
				if !strings.Contains(output, s) {
					return false
				}
			}
			return true
		}
		ok := holds()
		if !ok && b.again {
			ok = proctest.Eventually(10*time.Second, 100*time.Millisecond, holds)
		}
		require.Equal(t, "0", rc, "README.md:%d: the block exited %s:\n%s\n%s", b.line, rc, script, output)
		require.True(t, ok, "README.md:%d: the output does not hold %q:\n%s", b.line, b.output, output)
		for _, want := range b.logs {
			require.True(t, proctest.Eventually(10*time.Second, 50*time.Millisecond, func() bool { return hasLine(logs, want) }),
				"README.md:%d: the log has no line with %v:\n%s", b.line, want, logs.String())
		}
		t.Logf("README.md:%d:\n%s", b.line, output)
	}
}

// isSetting reports a variable the dispatcher reads: the README's run has
// none of them set but LISTEN_ADDR, like `make run` on a fresh machine.
func isSetting(k string) bool {
	for _, v := range config.Vars() {
		if v.Env == k {
			return true
		}
	}
	return k == "DISPATCHER_FAULTS"
}

// shell is one sh process that runs blocks one after another, so that
// variables set by a block are there for the next ones.
type shell struct {
	in  io.WriteCloser
	out *bufio.Reader
}

func newShell(t *testing.T, dir string, env []string) *shell {
	t.Helper()
	cmd := exec.Command("sh")
	cmd.Dir, cmd.Env = dir, env
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = in.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := &shell{in: in, out: bufio.NewReader(out)}
	_, err = io.WriteString(in, "exec 2>&1\n")
	require.NoError(t, err)
	return s
}

// run runs script as block n and returns what it wrote and its exit
// status; the block must finish within 30 seconds.
func (s *shell) run(t *testing.T, n int, script string) (string, string) {
	t.Helper()
	end := fmt.Sprintf("@@readme-test end %d", n)
	_, err := io.WriteString(s.in, script+fmt.Sprintf("\n__rc=$?; printf '\\n%s %%s@@\\n' \"$__rc\"\n", end))
	require.NoError(t, err)
	type result struct {
		out string
		rc  string
		err error
	}
	done := make(chan result, 1)
	go func() {
		var b strings.Builder
		for {
			line, err := s.out.ReadString('\n')
			if err != nil {
				done <- result{b.String(), "", err}
				return
			}
			if rest, ok := strings.CutPrefix(line, end+" "); ok {
				done <- result{strings.TrimSuffix(b.String(), "\n"), strings.TrimSuffix(strings.TrimSpace(rest), "@@"), nil}
				return
			}
			b.WriteString(line)
		}
	}()
	select {
	case r := <-done:
		require.NoError(t, r.err, "block %d: the shell ended; output:\n%s", n, r.out)
		return r.out, r.rc
	case <-time.After(30 * time.Second):
		t.Fatalf("block %d did not finish:\n%s", n, script)
		return "", ""
	}
}

// hasLine reports a JSON line of logs whose fields have the wanted values.
func hasLine(logs *logtest.Buffer, want map[string]string) bool {
	for _, ev := range logs.Events() {
		ok := true
		for k, v := range want {
			if fmt.Sprint(ev[k]) != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
