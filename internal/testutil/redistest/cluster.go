package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterNodeTimeout is cluster-node-timeout of the test clusters: a master
// that stops answering is failed over to its replica after at least this
// plus half a second (the replica's election delay), about 1.5 to 2.5s.
// That is longer than the step-down time of the tests' leases (2/3 of a 2s
// LEASE_TTL), so every lease term on the dead master ends before the
// promoted replica takes writes (see docs/scaling.md).
const ClusterNodeTimeout = time.Second

// Cluster is a Redis Cluster of real redis-server processes on loopback,
// created with `redis-cli --cluster create`. Every node is reached through
// its own Proxy (the node announces the proxy's port), so a test can freeze
// a master's replication stream (Proxy.Freeze) before killing it.
type Cluster struct {
	t     testing.TB
	Nodes []*ClusterNode
	// Sec is the access control of a NewSecureCluster, nil otherwise.
	Sec *Security
}

// ClusterNode is one node of a Cluster.
type ClusterNode struct {
	*Server        // the process; Server.Addr() is its real address
	Proxy   *Proxy // the announced address every client and replica uses
	ID      string // cluster node id
	// MasterID is the id of the master this node replicates at creation,
	// "" for a master.
	MasterID string
}

// Addr returns the node's announced address (its proxy).
func (n *ClusterNode) Addr() string { return n.Proxy.Addr() }

// NewCluster starts masters*(1+replicas) nodes, creates the cluster with
// `redis-cli --cluster create ... --cluster-replicas replicas --cluster-yes`
// and waits until every node reports cluster_state:ok and every replica's
// link is up. cluster-require-full-coverage is off, so the slots of the
// other masters stay served while one is failed over. Nodes are killed at
// cleanup.
func NewCluster(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	return NewSecureCluster(t, masters, replicas, nil)
}

// NewSecureCluster is NewCluster with access control (nil: none): every
// node requires sec's ACL user, and with sec.TLS speaks TLS only, to
// clients, replicas and the cluster bus.
func NewSecureCluster(t testing.TB, masters, replicas int, sec *Security) *Cluster {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing(t, bin+" is not on PATH")
		}
	}
	c := &Cluster{t: t, Sec: sec}
	var addrs []string
	for i := 0; i < masters*(1+replicas); i++ {
		px := NewProxy(t, "")
		s := &Server{t: t, Dir: t.TempDir(), sec: sec, cluster: true}
		s.startNew(func() {
			bus := pickPort(t)
			s.Port = pickPort(t)
			px.setTarget(s.Addr())
			s.extra = []string{
				"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", strconv.Itoa(int(ClusterNodeTimeout.Milliseconds())),
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-announce-ip", "127.0.0.1", "--cluster-announce-port", strconv.Itoa(px.Port()),
				"--cluster-announce-bus-port", strconv.Itoa(bus),
				"--cluster-require-full-coverage", "no", "--cluster-replica-validity-factor", "0",
				"--cluster-allow-replica-migration", "no",
				"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
			}
			if sec != nil && sec.TLS {
				s.extra = append(s.extra, "--cluster-announce-tls-port", strconv.Itoa(px.Port()))
			}
		})
		t.Cleanup(s.Kill)
		c.Nodes = append(c.Nodes, &ClusterNode{Server: s, Proxy: px})
		addrs = append(addrs, px.Addr())
	}
	args := append(sec.cliArgs(), "--cluster", "create")
	args = append(args, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	out, err := exec.Command("redis-cli", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(20 * time.Second)
	// a replica's role reaches the other nodes by gossip, possibly after
	// cluster_state:ok: wait until node 0 knows every replica
	var lastErr error
	if !poll(20*time.Second, func() bool {
		var n int
		n, lastErr = c.readTopology()
		return n == masters*replicas
	}) {
		t.Fatalf("CLUSTER NODES does not list %d replicas within 20s (%v)", masters*replicas, lastErr)
	}
	return c
}

// Seeds returns every node's announced address, for REDIS_CLUSTER_ADDRS.
func (c *Cluster) Seeds() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr())
	}
	return out
}

// Client returns a cluster client seeded with every node, closed at cleanup.
func (c *Cluster) Client() *redis.ClusterClient {
	o := c.Sec.options("")
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Seeds(), MaxRedirects: 16, ClusterStateReloadInterval: time.Second,
		Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig})
	c.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// nodeClient returns a plain client of a node's real address; callers close it.
func nodeClient(n *ClusterNode) *redis.Client {
	o := n.Server.Options()
	o.DialTimeout, o.ReadTimeout, o.MaxRetries = time.Second, time.Second, -1
	return redis.NewClient(o)
}

// Alive reports whether the node's process runs.
func (n *ClusterNode) Alive() bool { return n.cmd != nil }

// Info returns one section of INFO of the node as a map.
func (n *ClusterNode) Info(ctx context.Context, section string) (map[string]string, error) {
	cl := nodeClient(n)
	defer cl.Close()
	return infoMap(ctx, cl, section)
}

func infoMap(ctx context.Context, cl redis.Cmdable, section string) (map[string]string, error) {
	raw, err := cl.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(raw, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m, nil
}

// WaitHealthy waits until every live node says cluster_state:ok and knows
// every live node, and every live replica's link to its master is up.
func (c *Cluster) WaitHealthy(timeout time.Duration) {
	c.t.Helper()
	var last string
	ok := poll(timeout, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		live := 0
		for _, n := range c.Nodes {
			if n.Alive() {
				live++
			}
		}
		for _, n := range c.Nodes {
			if !n.Alive() {
				continue
			}
			cl := nodeClient(n)
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				cl.Close()
				last = fmt.Sprintf("node %s: %v %s", n.Addr(), err, firstLine(info))
				return false
			}
			repl, err := infoMap(ctx, cl, "replication")
			cl.Close()
			if err != nil {
				last = err.Error()
				return false
			}
			if repl["role"] == "slave" && repl["master_link_status"] != "up" {
				last = fmt.Sprintf("replica %s: link %s", n.Addr(), repl["master_link_status"])
				return false
			}
		}
		return true
	})
	if !ok {
		c.t.Fatalf("cluster not healthy within %s: %s", timeout, last)
	}
}

// readTopology fills in node ids and replication from node 0's CLUSTER
// NODES and returns how many replicas it lists.
func (c *Cluster) readTopology() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl := nodeClient(c.Nodes[0])
	defer cl.Close()
	raw, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("CLUSTER NODES: %w", err)
	}
	replicas := 0
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		for _, n := range c.Nodes {
			if n.Addr() == addr {
				n.ID, n.MasterID = f[0], ""
				if strings.Contains(f[2], "slave") {
					n.MasterID = f[3]
					replicas++
				}
			}
		}
	}
	return replicas, nil
}

// Masters returns the nodes created as masters.
func (c *Cluster) Masters() []*ClusterNode {
	var out []*ClusterNode
	for _, n := range c.Nodes {
		if n.MasterID == "" {
			out = append(out, n)
		}
	}
	return out
}

// ReplicaOf returns the first node created as a replica of m, or nil.
func (c *Cluster) ReplicaOf(m *ClusterNode) *ClusterNode {
	for _, n := range c.Nodes {
		if n.MasterID == m.ID {
			return n
		}
	}
	return nil
}

// MasterFor returns the node that serves key's slot now, as a live node's
// CLUSTER SLOTS says.
func (c *Cluster) MasterFor(ctx context.Context, key string) (*ClusterNode, error) {
	for _, n := range c.Nodes {
		if !n.Alive() {
			continue
		}
		cl := nodeClient(n)
		slot, err := cl.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			cl.Close()
			continue
		}
		slots, err := cl.ClusterSlots(ctx).Result()
		cl.Close()
		if err != nil {
			continue
		}
		for _, r := range slots {
			if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
				for _, m := range c.Nodes {
					if m.Addr() == r.Nodes[0].Addr {
						return m, nil
					}
				}
			}
		}
	}
	return nil, fmt.Errorf("redistest: no live node serves %q", key)
}

// Kill kills the node with SIGKILL and closes its proxy, dropping whatever
// the proxy held: the node is gone as a crashed host is.
func (n *ClusterNode) Kill() {
	n.Server.Kill()
	n.Proxy.Close()
}

// WaitRole waits until the node reports role ("master" or "slave").
func (n *ClusterNode) WaitRole(role string, timeout time.Duration) bool {
	return poll(timeout, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		m, err := n.Info(ctx, "replication")
		return err == nil && m["role"] == role
	})
}

// poll checks cond every 50ms until it holds or timeout passes.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond) // poll interval of an external process
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(l)
}
