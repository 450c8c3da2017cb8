// Package redistest gives tests a real redis-server (or miniredis for fast
// unit tests), each test with its own namespace.
//
// The shared server is the one `make test` starts and exports as
// DISPATCHER_TEST_REDIS_URL. Tests that restart, stop or kill Redis start a
// dedicated server with NewServer (needs redis-server on PATH). Without a
// server, tests that need one are skipped, unless DISPATCHER_REQUIRE_REDIS=1
// (set by `make test` and CI), which makes them fail instead.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// EnvURL names the variable holding the shared test server's URL.
const EnvURL = "DISPATCHER_TEST_REDIS_URL"

// EnvRequire makes a missing server a failure instead of a skip.
const EnvRequire = "DISPATCHER_REQUIRE_REDIS"

func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("real redis-server required: %s", why)
	}
	t.Skipf("no real redis-server (%s); run `make test`", why)
}

// Namespace returns a namespace unique to this test run.
func Namespace(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.NewReplacer("/", "-", " ", "-", "{", "", "}", "", ":", "-").Replace(t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return "t-" + name + "-" + hex.EncodeToString(b[:])
}

// URL returns the shared real server's URL, or skips/fails the test.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		missing(t, EnvURL+" is not set")
	}
	return u
}

// Client returns a client of the shared real server and a fresh namespace;
// the namespace's keys are deleted when the test ends.
func Client(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opt, err := redis.ParseURL(URL(t))
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	c := redis.NewClient(opt)
	ns := Namespace(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, pat := range []string{ns + ":*", "{" + ns + ":*"} {
			iter := c.Scan(ctx, 0, pat, 1000).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		}
		_ = c.Close()
	})
	return c, ns
}

// Mini returns a miniredis server and a client of it, closed at cleanup.
func Mini(t testing.TB) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return m, c
}

// Server is a dedicated redis-server process that a test can stop, kill
// and restart on the same port.
type Server struct {
	t    testing.TB
	Port int
	Dir  string
	AOF  bool
	// extra arguments of redis-server (cluster or replication settings)
	extra []string
	// sec, when set, is the topology's access control (Security)
	sec     *Security
	cluster bool
	cmd     *exec.Cmd
	done    chan struct{}
}

// NewServer starts a dedicated redis-server on a loopback port (see
// pickPort), with append-only persistence when aof is true. It is killed at
// cleanup.
func NewServer(t testing.TB, aof bool) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing(t, "redis-server is not on PATH")
	}
	s := &Server{t: t, Dir: t.TempDir(), AOF: aof}
	s.startNew(func() { s.Port = pickPort(t) })
	t.Cleanup(s.Kill)
	return s
}

// startNew starts a server that has no port yet: pick chooses its ports,
// again whenever another process took them first.
func (s *Server) startNew(pick func()) {
	s.t.Helper()
	pick()
	launchRetrying(s.t, "redis-server", pick, s.launch)
}

// Addr returns host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL returns the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Start starts the server again on its port and files and waits until it
// answers.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.launch(); err != nil {
		s.t.Fatalf("restart %s: %v", s, err)
	}
}

// launch starts the process and waits until it answers; errPortTaken when
// its port was taken by another process.
func (s *Server) launch() error {
	args := append(s.sec.serverArgs(s.Port, s.cluster), "--bind", "127.0.0.1", "--dir", s.Dir,
		"--save", "", "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning")
	if s.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	args = append(args, s.extra...)
	cmd := exec.Command("redis-server", args...)
	logf, logPath := logFile(s.Dir, "redis.log")
	if logf != nil {
		cmd.Stdout, cmd.Stderr = logf, logf
		defer logf.Close()
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	err := waitOurs(s.plainClient, cmd.Process.Pid, done, func() error { return exitedAtStart(logPath, s.Addr()) }, 10*time.Second)
	if err != nil {
		_ = cmd.Process.Kill()
		<-done
		return err
	}
	s.cmd, s.done = cmd, done
	return nil
}

func (s *Server) plainClient() *redis.Client {
	o := s.Options()
	o.DialTimeout, o.MaxRetries = 500*time.Millisecond, -1
	return redis.NewClient(o)
}

// Options returns client options for this server's real address, logged
// in as the topology's ACL user (over TLS) when it has a Security.
func (s *Server) Options() *redis.Options { return s.sec.options(s.Addr()) }

// Kill stops the server with SIGKILL and waits for it to exit.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Stop stops the server gracefully (SIGTERM) and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Client returns a client of this server, closed at cleanup.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(s.Options())
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// String describes the server for test output.
func (s *Server) String() string { return fmt.Sprintf("redis-server %s (aof=%v)", s.Addr(), s.AOF) }

// DeadClient returns a client of a loopback port nobody listens on, which
// fails every command at once (no retries), closed at cleanup.
func DeadClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", FreePort(t)),
		MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
