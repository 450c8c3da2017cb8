package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// process is one dispatcher process run for its exit code and output.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout strings.Builder
	stderr strings.Builder
	lines  chan string // stdout lines as they come
	done   chan struct{}
	code   int
}

// startProcess runs `dispatcher args...` with env added to this process's
// environment.
func startProcess(t *testing.T, env map[string]string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(proctest.Binary(t), args...), lines: make(chan string, 1024), done: make(chan struct{})}
	p.cmd.Env = os.Environ()
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	out, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	errOut, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		defer wg.Done()
		b, _ := io.ReadAll(errOut)
		p.mu.Lock()
		p.stderr.Write(b)
		p.mu.Unlock()
	}()
	go func() {
		wg.Wait()
		err := p.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait returns the exit code, failing the test if the process is still
// running after timeout.
func (p *process) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		t.Fatalf("%v still running after %s; stdout:\n%s", p.cmd.Args, timeout, p.out())
		return -1
	}
}

func (p *process) out() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }
func (p *process) errs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// boundAddr waits for the address the process reports it bound
// (SERVICE_STARTING's addr: it listens on port 0).
func (p *process) boundAddr(t *testing.T, timeout time.Duration) string {
	t.Helper()
	addr, ok := proctest.WaitAddr(timeout, p.out)
	require.True(t, ok, "%v reported no address; stdout:\n%s", p.cmd.Args, p.out())
	return addr
}

// waitLine waits for a stdout line containing s.
func (p *process) waitLine(t *testing.T, timeout time.Duration, s string) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, s) {
				return
			}
		case <-p.done:
			t.Fatalf("%v exited (%d) before logging %q; stderr: %s", p.cmd.Args, p.code, s, p.errs())
		case <-deadline:
			t.Fatalf("%v: no line with %q after %s; stdout:\n%s", p.cmd.Args, s, timeout, p.out())
		}
	}
}

// TestRedisRefusalsExit2AndOutagesAreRetried: what Redis will answer on
// every try (no such database, a wrong password, an ACL that denies the
// instance's keys or scripts) stops `serve` at start with exit 2 and one
// line naming REDIS_URL, and makes the operator commands exit 2 the same
// way; a Redis that does not answer is retried by serve (it stays up, not
// ready) and is one line, exit 1, for the commands, without go-redis' own
// pool lines.
func TestRedisRefusalsExit2AndOutagesAreRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and dispatcher processes")
	}
	srv := redistest.NewServer(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin := srv.Client()
	// a user that may PING and use keys outside the namespace only, and one
	// that may not run scripts
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "elsewhere", "on", ">pw", "~other:*", "+@all").Err())
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "noscripts", "on", ">pw", "~*", "+@all", "-@scripting").Err())
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "default", ">adminpw").Err()) // requirepass

	base := map[string]string{"BOT_TOKEN": "", "SANDBOX": "true", "LOG_FORMAT": "kv"}
	refused := []struct{ name, url, answer string }{
		{"no such database", "redis://:adminpw@" + srv.Addr() + "/99", "ERR DB index is out of range"},
		{"wrong password", "redis://:wrong@" + srv.Addr() + "/0", "WRONGPASS"},
		{"no password", "redis://" + srv.Addr() + "/0", "NOAUTH"},
		{"ACL denies the namespace's keys", "redis://elsewhere:pw@" + srv.Addr() + "/0", "NOPERM"},
		{"ACL denies scripts", "redis://noscripts:pw@" + srv.Addr() + "/0", "NOPERM"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"REDIS_URL": tc.url, "LISTEN_ADDR": "127.0.0.1:0"}
			for k, v := range base {
				env[k] = v
			}
			p := startProcess(t, env, "serve")
			require.Equal(t, 2, p.wait(t, 15*time.Second), "serve: stderr %q", p.errs())
			stderr := p.errs()
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			require.True(t, strings.HasPrefix(stderr, "dispatcher: REDIS_URL: Redis refuses it on every try: "+tc.answer), stderr)
			require.NotContains(t, stderr, "pw@", "the URL's password is never echoed")
			require.NotContains(t, p.out(), "retrying", "not mistaken for an outage")

			c := startProcess(t, env, "status")
			require.Equal(t, 2, c.wait(t, 15*time.Second), "status: %q", c.errs())
			require.Equal(t, 1, strings.Count(c.errs(), "\n"), "one line: %q", c.errs())
			require.True(t, strings.HasPrefix(c.errs(), "dispatcher: REDIS_URL: Redis refuses it on every try: "+tc.answer), c.errs())
		})
	}

	t.Run("outage", func(t *testing.T) {
		env := map[string]string{"REDIS_URL": fmt.Sprintf("redis://127.0.0.1:%d/0", redistest.FreePort(t)), // nothing listens
			"LISTEN_ADDR": "127.0.0.1:0"}
		for k, v := range base {
			env[k] = v
		}
		p := startProcess(t, env, "serve")
		p.waitLine(t, 10*time.Second, "redis unavailable at start; retrying")
		select {
		case <-p.done:
			t.Fatalf("serve exited (%d) on an outage: %s", p.code, p.errs())
		case <-time.After(1500 * time.Millisecond): // a few retries (100, 200, 400, 800 ms)
		}
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		require.Equal(t, 0, p.wait(t, 10*time.Second), "a stop before Redis answered is clean: %s", p.errs())

		c := startProcess(t, env, "status")
		require.Equal(t, 1, c.wait(t, 20*time.Second))
		stderr := c.errs()
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line, no go-redis pool lines: %q", stderr)
		require.True(t, strings.HasPrefix(stderr, "dispatcher: redis unavailable (REDIS_UNAVAILABLE): "), stderr)
		require.NotContains(t, stderr, "pool.go")
	})
}
