package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/dnstest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// TestNginxInFront runs Debian's nginx with deploy/nginx.conf in front of two
// real instances, as docker-compose.yml does, and checks what Telegram sees
// while one instance is killed (kill -9), one is frozen (SIGSTOP) and Redis
// goes away: 200 whenever an instance can take the update, the instances'
// own 503 (never nginx's 502) when none can, and 200 again at once after
// Redis is back (no instance marked down). Every update answered 200 is
// dispatched.
//
// The file is used as shipped except for what ties it to Docker: the listen
// port, the port of "dispatcher", the resolver's address (a test DNS server
// answers "dispatcher" with both instances, as Docker's DNS answers a
// service's replicas) and the pid file's path.
func TestNginxInFront(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	nginxBin := findNginx()
	if nginxBin == "" {
		t.Skip("nginx not found: deploy/nginx.conf is NOT tested in front of real instances (make test installs it: apt-get install nginx)")
	}
	rs := redistest.NewServer(t, true)
	e := world.New(t, rs.URL(), map[string]string{"LEASE_TTL": "2s"})
	port := sharedPort(t, "127.0.0.2", "127.0.0.3")
	a := e.Cluster.Start("nginx-a", map[string]string{"LISTEN_ADDR": "127.0.0.2:" + port})
	b := e.Cluster.Start("nginx-b", map[string]string{"LISTEN_ADDR": "127.0.0.3:" + port})
	a.WaitReady(20 * time.Second)
	b.WaitReady(20 * time.Second)
	dns := dnstest.New(t, "dispatcher", "127.0.0.2", "127.0.0.3")
	ng := startNginx(t, nginxBin, port, dns.Addr())

	tg := &telegram{url: ng.url + "/webhook", next: 880000}
	// 1. Both up: every update accepted, both instances take some.
	for _, r := range tg.sendN(t, 40) {
		require.Equal(t, 200, r.code, "both up: %+v", r)
	}
	require.True(t, ng.servedBoth("127.0.0.2:"+port, "127.0.0.3:"+port), "nginx spreads the webhooks over both instances:\n%s", ng.log())

	// 2. kill -9 b: nginx retries on a; Telegram sees 200 at once.
	b.Signal(syscall.SIGKILL)
	_, _ = b.Wait(10 * time.Second)
	for _, r := range tg.sendN(t, 30) {
		require.Equal(t, 200, r.code, "b killed: %+v", r)
		require.Less(t, r.took, time.Second, "b killed: a refused connection is retried at once")
	}
	b = e.Cluster.Start("nginx-b2", map[string]string{"LISTEN_ADDR": "127.0.0.3:" + port})
	b.WaitReady(20 * time.Second)

	// 3. SIGSTOP a: a request that reaches the frozen instance waits
	// proxy_read_timeout (3s), then goes to b; none is lost or refused.
	a.Signal(syscall.SIGSTOP)
	frozen := tg.sendN(t, 6)
	a.Signal(syscall.SIGCONT)
	slow := 0
	for _, r := range frozen {
		require.Equal(t, 200, r.code, "a frozen: %+v", r)
		require.Less(t, r.took, 4500*time.Millisecond, "a frozen holds a request at most proxy_read_timeout")
		if r.took > 2500*time.Millisecond {
			slow++
		}
	}
	t.Logf("a frozen: %d of %d requests reached it first and were retried on b after the read timeout", slow, len(frozen))

	// 4. Redis down: both instances answer 503 themselves; nginx tries both
	// and passes the last 503 through, with the instance's body and
	// Retry-After.
	rs.Stop()
	down := tg.sendN(t, 10)
	for _, r := range down {
		require.Equal(t, 503, r.code, "Redis down: Telegram must see the service's 503, not %d: %+v", r.code, r)
		require.Equal(t, "REDIS_UNAVAILABLE\n", r.body, "the body is the dispatcher's (its reason code alone), not nginx's")
		require.Equal(t, "1", r.retryAfter)
	}
	require.NotContains(t, ng.log(), "no live upstreams", "no instance is marked down for a 503")
	rs.Start()
	// Each instance takes updates again once its client reconnects (go-redis
	// retries a failed dial about once a second): probe each directly with
	// an update that Telegram then sends through nginx too (a duplicate).
	for _, in := range []*proctest.Instance{a, b} {
		require.True(t, proctest.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
			code, _, err := in.Post(context.Background(), "/webhook", world.EditedMessage(tg.next+1, 6001))
			return err == nil && code == 200
		}), "%s takes updates again after Redis is back", in.ID)
	}
	// 5. Redis back: nginx marked nothing down, so every update is accepted
	// at once, through both instances.
	for _, r := range tg.sendN(t, 20) {
		require.Equal(t, 200, r.code, "Redis back: %+v", r)
	}

	// Every update answered 200 is dispatched (a duplicate of one that the
	// frozen instance read late is deduplicated).
	accepted := tg.accepted()
	require.True(t, proctest.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
		done := map[int64]bool{}
		for _, l := range world.LinesNamed(e.Cluster.Lines(), "DISPATCH_OK") {
			done[l.Int("update_id")] = true
		}
		for id := range accepted {
			if !done[id] {
				return false
			}
		}
		return true
	}), "every update answered 200 is dispatched")
	t.Logf("Telegram saw: %v (nginx %s)", tg.codes(), ng.version)
}

// findNginx returns the nginx binary, "" if there is none.
func findNginx() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return ""
}

// sharedPort returns a TCP port free on every one of hosts, as Compose's
// replicas all listen on 8080, each on its own address.
func sharedPort(t *testing.T, hosts ...string) string {
	t.Helper()
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp", hosts[0]+":0")
		require.NoError(t, err)
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		free := true
		var others []net.Listener
		for _, h := range hosts[1:] {
			o, err := net.Listen("tcp", h+":"+port)
			if err != nil {
				free = false
				break
			}
			others = append(others, o)
		}
		_ = l.Close()
		for _, o := range others {
			_ = o.Close()
		}
		if free {
			return port
		}
	}
	t.Fatalf("no port free on all of %v", hosts)
	return ""
}

type nginxProc struct {
	url, version string
	mu           sync.Mutex
	out          bytes.Buffer
}

func (n *nginxProc) log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.out.String()
}

// servedBoth reports whether the access log shows answers from both.
func (n *nginxProc) servedBoth(x, y string) bool {
	l := n.log()
	return strings.Contains(l, " "+x+" ") && strings.Contains(l, " "+y+" ")
}

// shippedNginxConf returns deploy/nginx.conf with its Docker ties replaced;
// each replacement must match exactly once, so a change of the file that
// the test would no longer follow fails here.
func shippedNginxConf(t *testing.T, listen, port, resolver, pid string) string {
	t.Helper()
	b, err := os.ReadFile("../deploy/nginx.conf")
	require.NoError(t, err)
	conf := string(b)
	for _, r := range []struct{ re, to string }{
		{`(?m)^(\s*listen )8080;`, "${1}" + listen + ";"},
		{`(?m)^(\s*set \$dispatcher dispatcher:)8080;`, "${1}" + port + ";"},
		{`(?m)^(\s*resolver )127\.0\.0\.11( )`, "${1}" + resolver + "${2}"},
		{`(?m)^pid /tmp/nginx\.pid;`, "pid " + pid + ";"},
	} {
		re := regexp.MustCompile(r.re)
		require.Len(t, re.FindAllString(conf, -1), 1, "deploy/nginx.conf: want exactly one match of %s", r.re)
		conf = re.ReplaceAllString(conf, r.to)
	}
	return conf
}

// startNginx runs nginx in the foreground with the shipped configuration and
// waits until it answers /nginx-health.
func startNginx(t *testing.T, bin, port, resolver string) *nginxProc {
	t.Helper()
	dir := t.TempDir()
	listen := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
	conf := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(conf, []byte(shippedNginxConf(t, listen, port, resolver, filepath.Join(dir, "nginx.pid"))), 0o644))
	out, err := exec.Command(bin, "-v").CombinedOutput()
	require.NoError(t, err, "%s", out)
	n := &nginxProc{url: "http://" + listen, version: strings.TrimSpace(strings.TrimPrefix(string(out), "nginx version: "))}
	if out, err := exec.Command(bin, "-t", "-p", dir, "-e", "stderr", "-c", conf).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t rejects deploy/nginx.conf (%s):\n%s", n.version, out)
	}
	cmd := exec.Command(bin, "-p", dir, "-e", "stderr", "-c", conf, "-g", "daemon off;")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			n.mu.Lock()
			n.out.WriteString(sc.Text() + "\n")
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = pw.Close()
		if t.Failed() {
			t.Logf("nginx output:\n%s", n.log())
		}
	})
	require.True(t, proctest.Eventually(10*time.Second, 50*time.Millisecond, func() bool {
		resp, err := http.Get(n.url + "/nginx-health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}), "nginx answers:\n%s", n.log())
	return n
}

// telegram posts updates to the webhook as Telegram does, once each, and
// records what it saw.
type telegram struct {
	url  string
	next int64
	mu   sync.Mutex
	seen []answer
}

type answer struct {
	id         int64
	code       int
	body       string
	retryAfter string
	took       time.Duration
}

var webhookClient = &http.Client{Timeout: 15 * time.Second}

// sendN posts n new updates one after another and returns the answers.
func (tg *telegram) sendN(t *testing.T, n int) []answer {
	t.Helper()
	var out []answer
	for i := 0; i < n; i++ {
		tg.next++
		id := tg.next
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, tg.url,
			bytes.NewReader(world.EditedMessage(id, 6000+id%50)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", world.WebhookSecret)
		start := time.Now()
		resp, err := webhookClient.Do(req)
		require.NoError(t, err, "update %d: no answer at all", id)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, answer{id: id, code: resp.StatusCode, body: string(body),
			retryAfter: resp.Header.Get("Retry-After"), took: time.Since(start)})
	}
	tg.mu.Lock()
	tg.seen = append(tg.seen, out...)
	tg.mu.Unlock()
	return out
}

func (tg *telegram) accepted() map[int64]bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	out := map[int64]bool{}
	for _, a := range tg.seen {
		if a.code == 200 {
			out[a.id] = true
		}
	}
	return out
}

func (tg *telegram) codes() string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	m := map[int]int{}
	for _, a := range tg.seen {
		m[a.code]++
	}
	return fmt.Sprint(m)
}
