package redistest

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Ports of redis-server processes. A redis-server cannot listen on port 0
// and tell which port it got, so a port is chosen for it. Every listener
// that asks for port 0 (the dispatcher processes, httptest servers,
// proxies, of this test binary or any other) gets one from the kernel's
// ephemeral range; the ports chosen here lie below it, so none of those
// can take a port between its choice and redis-server's bind. Two choosers
// (test binaries run in parallel) can still meet on one port: the server
// that loses the bind exits at start, and the test starts it again on
// another port (see launchRetrying). A port is handed out once per
// process, so a stopped server keeps its port for its restart.
const (
	portLow  = 20000
	portHigh = 32000 // below net.ipv4.ip_local_port_range's usual 32768
	// portTries bounds the ports tried for one server.
	portTries = 20
)

var handedOut struct {
	mu    sync.Mutex
	ports map[int]bool
}

// pickPort returns a loopback port below the ephemeral range that this
// process never handed out and that nothing listens on right now. It does
// not hold the port: the caller's redis-server binds it, or fails to and
// asks again.
func pickPort(t testing.TB) int {
	t.Helper()
	handedOut.mu.Lock()
	defer handedOut.mu.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	for range 1000 {
		p := portLow + rand.IntN(portHigh-portLow)
		if handedOut.ports[p] {
			continue
		}
		handedOut.ports[p] = true
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			_ = l.Close()
			return p
		}
	}
	t.Fatalf("redistest: no free port in [%d,%d)", portLow, portHigh)
	return 0
}

// errPortTaken is returned by a launch whose redis-server could not bind
// its port: the caller tries another one.
var errPortTaken = errors.New("redistest: port taken")

// launchRetrying calls launch with fresh ports until one binds, at most
// portTries times. repick chooses the next ports.
func launchRetrying(t testing.TB, what string, repick func(), launch func() error) {
	t.Helper()
	var err error
	for range portTries {
		if err = launch(); !errors.Is(err, errPortTaken) {
			break
		}
		repick()
	}
	if err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
}

// exitedAtStart turns the early exit of a redis-server whose log is at
// logPath into errPortTaken when the log says its address was in use.
func exitedAtStart(logPath, addr string) error {
	log, _ := os.ReadFile(logPath)
	if strings.Contains(string(log), "Address already in use") {
		return errPortTaken
	}
	return errors.New("redis-server on " + addr + " exited at start: " + lastLines(string(log), 5))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// waitOurs waits until the server at addr answers and is the process pid
// (not another server that already had the port), or done is closed (the
// process exited: exitErr tells why).
func waitOurs(newClient func() *redis.Client, pid int, done <-chan struct{}, exitErr func() error, timeout time.Duration) error {
	c := newClient()
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		info, err := infoMap(ctx, c, "server")
		cancel()
		if err == nil && info["process_id"] == strconv.Itoa(pid) {
			return nil
		}
		select {
		case <-done:
			return exitErr()
		case <-time.After(20 * time.Millisecond): // poll interval while the server boots
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("another process answers on its port")
			}
			return errors.New("redis-server did not answer: " + err.Error())
		}
	}
}

// logFile creates dir/name afresh for one launch's output.
func logFile(dir, name string) (*os.File, string) {
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, p
	}
	return f, p
}

// FreePort returns a loopback port nothing listens on, for a client that
// must find its server gone (connection refused). Never bind it later: a
// test that needs a listener listens on port 0 and reads the port back.
func FreePort(t testing.TB) int {
	t.Helper()
	return pickPort(t)
}
