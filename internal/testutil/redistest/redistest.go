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
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	cmd   *exec.Cmd
	done  chan struct{}
}

// NewServer starts a dedicated redis-server on a free loopback port, with
// append-only persistence when aof is true. It is killed at cleanup.
func NewServer(t testing.TB, aof bool) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing(t, "redis-server is not on PATH")
	}
	s := &Server{t: t, Port: FreePort(t), Dir: t.TempDir(), AOF: aof}
	s.Start()
	t.Cleanup(s.Kill)
	return s
}

// Addr returns host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL returns the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Start starts the server (again) and waits until it answers PING.
func (s *Server) Start() {
	s.t.Helper()
	args := []string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--dir", s.Dir,
		"--save", "", "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning"}
	if s.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	args = append(args, s.extra...)
	cmd := exec.Command("redis-server", args...)
	logf, err := os.OpenFile(filepath.Join(s.Dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer: %v", s.Addr(), err)
		}
		select {
		case <-s.done:
			s.t.Fatalf("redis-server on %s exited at start", s.Addr())
		case <-time.After(20 * time.Millisecond): // poll interval while the server boots
		}
	}
}

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
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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
