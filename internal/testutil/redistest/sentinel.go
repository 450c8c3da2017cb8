package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelDownAfter is down-after-milliseconds of the test Sentinels: a
// master that stops answering is seen down after this, and the clients are
// switched to the promoted replica a second or more later (the vote, the
// promotion, the next INFO): 2.2 to 3.1s after the kill in the tests, well
// after the step-down time of their leases (2/3 of a 2s LEASE_TTL).
const SentinelDownAfter = time.Second

// SentinelMaster is the master name the test Sentinels monitor.
const SentinelMaster = "dispatcher"

// Sentinel is a replicated Redis watched by Sentinels: one master, its
// replicas and the Sentinel processes, all real and on loopback. The master
// is reached through a Proxy (the Sentinels monitor the proxy's address and
// the replicas replicate from it), so a test can freeze the replication
// stream (Master.Proxy.Freeze) before killing the master.
type Sentinel struct {
	t         testing.TB
	Master    *Replicated
	Replicas  []*Replicated
	Sentinels []*SentinelNode
}

// Replicated is a master or replica of a Sentinel topology.
type Replicated struct {
	*Server
	// Proxy is in front of the first master only: its address is the one
	// Sentinel reports for it. Nil for replicas.
	Proxy *Proxy
}

// Kill kills the server with SIGKILL and closes its proxy (dropping what it
// held), as a crashed host would.
func (r *Replicated) Kill() {
	r.Server.Kill()
	if r.Proxy != nil {
		r.Proxy.Close()
	}
}

// Info returns one section of INFO as a map.
func (r *Replicated) Info(ctx context.Context, section string) (map[string]string, error) {
	cl := redis.NewClient(&redis.Options{Addr: r.Server.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer cl.Close()
	return infoMap(ctx, cl, section)
}

// SentinelNode is one Sentinel process (`redis-server sentinel.conf --sentinel`).
type SentinelNode struct {
	t    testing.TB
	Port int
	Dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// Addr returns the Sentinel's host:port.
func (s *SentinelNode) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// NewSentinel starts a master, replicas replicas of it and sentinels
// Sentinels (quorum: a majority) with down-after-milliseconds
// SentinelDownAfter, and waits until every Sentinel knows the replicas and
// the other Sentinels, and every replica's link is up. Everything is killed
// at cleanup.
func NewSentinel(t testing.TB, replicas, sentinels int) *Sentinel {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing(t, "redis-server is not on PATH")
	}
	st := &Sentinel{t: t}
	mport := FreePort(t)
	px := NewProxy(t, "127.0.0.1:"+strconv.Itoa(mport))
	m := &Server{t: t, Port: mport, Dir: t.TempDir(), extra: []string{
		"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}}
	m.Start()
	t.Cleanup(m.Kill)
	st.Master = &Replicated{Server: m, Proxy: px}
	for i := 0; i < replicas; i++ {
		r := &Server{t: t, Port: FreePort(t), Dir: t.TempDir(), extra: []string{
			"--replicaof", "127.0.0.1", strconv.Itoa(px.Port()),
			"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
			"--replica-announce-ip", "127.0.0.1"}}
		r.Start()
		t.Cleanup(r.Kill)
		st.Replicas = append(st.Replicas, &Replicated{Server: r})
	}
	quorum := sentinels/2 + 1
	for i := 0; i < sentinels; i++ {
		s := &SentinelNode{t: t, Port: FreePort(t), Dir: t.TempDir()}
		conf := strings.Join([]string{
			"port " + strconv.Itoa(s.Port),
			"bind 127.0.0.1",
			"protected-mode no",
			"dir " + s.Dir,
			"logfile " + filepath.Join(s.Dir, "sentinel.log"),
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d", SentinelMaster, px.Port(), quorum),
			fmt.Sprintf("sentinel down-after-milliseconds %s %d", SentinelMaster, SentinelDownAfter.Milliseconds()),
			// a failed vote is retried after twice this
			fmt.Sprintf("sentinel failover-timeout %s %d", SentinelMaster, 3000),
			fmt.Sprintf("sentinel parallel-syncs %s 1", SentinelMaster),
		}, "\n") + "\n"
		if err := os.WriteFile(filepath.Join(s.Dir, "sentinel.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		s.start()
		t.Cleanup(s.Kill)
		st.Sentinels = append(st.Sentinels, s)
	}
	st.waitReady(20 * time.Second)
	return st
}

// Addrs returns the Sentinels' addresses, for REDIS_SENTINEL_ADDRS.
func (st *Sentinel) Addrs() []string {
	var out []string
	for _, s := range st.Sentinels {
		out = append(out, s.Addr())
	}
	return out
}

// Client returns a Sentinel-aware client of the current master, closed at
// cleanup.
func (st *Sentinel) Client() *redis.Client {
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: st.Addrs(),
		DialTimeout: time.Second, ReadTimeout: time.Second})
	st.t.Cleanup(func() { _ = c.Close() })
	return c
}

// MasterAddr returns the master address the first answering Sentinel reports.
func (st *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, s := range st.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
		addr, err := sc.GetMasterAddrByName(ctx, SentinelMaster).Result()
		_ = sc.Close()
		if err == nil && len(addr) == 2 {
			return addr[0] + ":" + addr[1], nil
		}
		last = err
	}
	return "", fmt.Errorf("redistest: no Sentinel reports the master: %v", last)
}

// WaitMaster waits until every live Sentinel reports addr as the master.
func (st *Sentinel) WaitMaster(addr string, timeout time.Duration) bool {
	return poll(timeout, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for _, s := range st.Sentinels {
			if s.cmd == nil {
				continue
			}
			sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
			got, err := sc.GetMasterAddrByName(ctx, SentinelMaster).Result()
			_ = sc.Close()
			if err != nil || len(got) != 2 || got[0]+":"+got[1] != addr {
				return false
			}
		}
		return true
	})
}

// waitReady waits until every Sentinel sees every replica and every other
// Sentinel, and every replica's link is up.
func (st *Sentinel) waitReady(timeout time.Duration) {
	st.t.Helper()
	var last string
	ok := poll(timeout, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, r := range st.Replicas {
			info, err := r.Info(ctx, "replication")
			if err != nil || info["master_link_status"] != "up" {
				last = fmt.Sprintf("replica %s: link %q %v", r.Server.Addr(), info["master_link_status"], err)
				return false
			}
		}
		for _, s := range st.Sentinels {
			sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
			m, err := sc.Master(ctx, SentinelMaster).Result()
			_ = sc.Close()
			if err != nil {
				last = fmt.Sprintf("sentinel %s: %v", s.Addr(), err)
				return false
			}
			if m["num-slaves"] != strconv.Itoa(len(st.Replicas)) || m["num-other-sentinels"] != strconv.Itoa(len(st.Sentinels)-1) {
				last = fmt.Sprintf("sentinel %s: %s replicas, %s other sentinels", s.Addr(), m["num-slaves"], m["num-other-sentinels"])
				return false
			}
		}
		return true
	})
	if !ok {
		st.t.Fatalf("sentinel topology not ready within %s: %s", timeout, last)
	}
}

func (s *SentinelNode) start() {
	s.t.Helper()
	cmd := exec.Command("redis-server", filepath.Join(s.Dir, "sentinel.conf"), "--sentinel")
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start sentinel: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)
	ok := poll(10*time.Second, func() bool {
		c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return c.Ping(ctx).Err() == nil
	})
	if !ok {
		s.t.Fatalf("sentinel on %s did not answer (log in %s)", s.Addr(), s.Dir)
	}
}

// Kill stops the Sentinel with SIGKILL and waits for it to exit.
func (s *SentinelNode) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}
