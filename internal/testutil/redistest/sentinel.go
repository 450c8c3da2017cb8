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
// replicas and the Sentinel processes, all real and on loopback. The
// Sentinels (and so the clients) reach the master at its own address; the
// replicas replicate from it through a Proxy they alone use, so a test can
// freeze the replication stream (Master.Proxy.Freeze), TLS or not, before
// killing the master.
type Sentinel struct {
	t         testing.TB
	Master    *Replicated
	Replicas  []*Replicated
	Sentinels []*SentinelNode
	// Sec is the access control of a NewSecureSentinel, nil otherwise.
	Sec *Security
}

// Replicated is a master or replica of a Sentinel topology.
type Replicated struct {
	*Server
	// Proxy is in front of the first master only: the replicas replicate
	// through it. Nil for replicas.
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
	o := r.Server.Options()
	o.DialTimeout, o.ReadTimeout, o.MaxRetries = time.Second, time.Second, -1
	cl := redis.NewClient(o)
	defer cl.Close()
	return infoMap(ctx, cl, section)
}

// SentinelNode is one Sentinel process (`redis-server sentinel.conf --sentinel`).
type SentinelNode struct {
	t    testing.TB
	Port int
	Dir  string
	sec  *Security
	conf func() string // sentinel.conf for Port
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
	return NewSecureSentinel(t, replicas, sentinels, nil)
}

// NewSecureSentinel is NewSentinel with access control (nil: none): the
// master and replicas require sec's ACL user, the Sentinels sec.SentinelPass,
// and with sec.TLS all of them speak TLS only (replication too).
func NewSecureSentinel(t testing.TB, replicas, sentinels int, sec *Security) *Sentinel {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing(t, "redis-server is not on PATH")
	}
	st := &Sentinel{t: t, Sec: sec}
	px := NewReplicationProxy(t, "")
	m := &Server{t: t, Dir: t.TempDir(), sec: sec, extra: []string{
		"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}}
	m.startNew(func() { m.Port = pickPort(t); px.setTarget(m.Addr()) })
	t.Cleanup(m.Kill)
	st.Master = &Replicated{Server: m, Proxy: px}
	for i := 0; i < replicas; i++ {
		r := &Server{t: t, Dir: t.TempDir(), sec: sec, extra: []string{
			"--replicaof", "127.0.0.1", strconv.Itoa(px.Port()),
			"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
			"--replica-announce-ip", "127.0.0.1"}}
		r.startNew(func() { r.Port = pickPort(t) })
		t.Cleanup(r.Kill)
		st.Replicas = append(st.Replicas, &Replicated{Server: r})
	}
	quorum := sentinels/2 + 1
	for i := 0; i < sentinels; i++ {
		s := &SentinelNode{t: t, Dir: t.TempDir(), sec: sec}
		s.conf = func() string {
			lines := append(sec.sentinelHead(s.Port),
				"bind 127.0.0.1",
				"protected-mode no",
				"dir "+s.Dir,
				"logfile "+filepath.Join(s.Dir, "sentinel.log"),
				fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d", SentinelMaster, m.Port, quorum),
				fmt.Sprintf("sentinel down-after-milliseconds %s %d", SentinelMaster, SentinelDownAfter.Milliseconds()),
				// a failed vote is retried after twice this
				fmt.Sprintf("sentinel failover-timeout %s %d", SentinelMaster, 3000),
				fmt.Sprintf("sentinel parallel-syncs %s 1", SentinelMaster))
			return strings.Join(append(lines, sec.sentinelTail(SentinelMaster)...), "\n") + "\n"
		}
		s.Port = pickPort(t)
		launchRetrying(t, "sentinel", func() { s.Port = pickPort(t) }, s.launch)
		t.Cleanup(s.Kill)
		st.Sentinels = append(st.Sentinels, s)
	}
	st.waitReady(20 * time.Second)
	return st
}

func (st *Sentinel) sentinelPass() string {
	if st.Sec == nil {
		return ""
	}
	return st.Sec.SentinelPass
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
	o := st.Sec.options("")
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: st.Addrs(),
		DialTimeout: time.Second, ReadTimeout: time.Second, Username: o.Username, Password: o.Password,
		SentinelPassword: st.sentinelPass(), TLSConfig: o.TLSConfig})
	st.t.Cleanup(func() { _ = c.Close() })
	return c
}

// MasterAddr returns the master address the first answering Sentinel reports.
func (st *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, s := range st.Sentinels {
		sc := redis.NewSentinelClient(st.Sec.sentinelOptions(s.Addr()))
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
			sc := redis.NewSentinelClient(st.Sec.sentinelOptions(s.Addr()))
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
			sc := redis.NewSentinelClient(st.Sec.sentinelOptions(s.Addr()))
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

// launch writes the Sentinel's configuration for its port, starts it and
// waits until it answers; errPortTaken when another process had the port.
func (s *SentinelNode) launch() error {
	conf := filepath.Join(s.Dir, "sentinel.conf")
	logPath := filepath.Join(s.Dir, "sentinel.log")
	_ = os.Remove(logPath)
	if err := os.WriteFile(conf, []byte(s.conf()), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	client := func() *redis.Client {
		o := s.sec.sentinelOptions(s.Addr())
		o.DialTimeout = 200 * time.Millisecond
		return redis.NewClient(o)
	}
	if err := waitOurs(client, cmd.Process.Pid, done, func() error { return exitedAtStart(logPath, s.Addr()) }, 10*time.Second); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return err
	}
	s.cmd, s.done = cmd, done
	return nil
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
