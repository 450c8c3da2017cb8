package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// TestAlertsOnRealScrapes runs a real Prometheus (Debian's, with the rules
// of deploy/prometheus/alerts.yml) scraping two bots that share it: bot 1
// on two instances, bot 2 on one, each with SHARDS=2 and its own
// REDIS_NAMESPACE, under a job name unlike prometheus.yml's. Bot 1's first
// dead letter fires DispatcherDeadLettersGrowing for bot 1 only: the counter
// was scraped at 0 before it (a counter born at 1 has no increase, and the
// alert waited for the second dead letter). The two healthy deployments
// fire nothing else: their shards 0 and 1 are not summed together (which
// made ShardWithTwoActive fire for every shard; a pending alert that its
// for: would wait out, such as a lease lost for a moment on a loaded
// machine, is allowed).
func TestAlertsOnRealScrapes(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not found: the alerts are NOT checked against real scrapes (make test installs it: apt-get install prometheus)")
	}
	const poisoned = 770001
	bot1 := world.New(t, "", map[string]string{"SHARDS": "2", "MAX_DELIVERIES": "1",
		"DISPATCHER_FAULTS": "panic=" + strconv.Itoa(poisoned)})
	bot2 := world.New(t, "", map[string]string{"SHARDS": "2"})
	ins := append(bot1.Start(2, "prom-bot1"), bot2.Start(1, "prom-bot2")...)
	for _, e := range []*world.World{bot1, bot2} {
		e := e
		require.True(t, proctest.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
			held := map[string]bool{}
			for _, in := range e.Cluster.Instances() {
				if r, ok := in.Ready(); ok {
					for s, st := range r.Shards {
						if st.Role == "ACTIVE" {
							held[s] = true
						}
					}
				}
			}
			return len(held) == 2
		}), "both shards of %s held", e.NS)
	}
	prom := startPrometheus(t, bin, ins)

	// The dead-letter counter of bot 1 is in Prometheus at 0 before the
	// first dead letter, as every labelled counter from an instance's start.
	require.True(t, proctest.Eventually(20*time.Second, 200*time.Millisecond, func() bool {
		return len(prom.query(t, fmt.Sprintf(`dispatcher_dead_letters_total{redis_namespace=%q} == 0`, bot1.NS))) == 2
	}), "bot 1's dead-letter counters scraped at 0")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, world.NewDriver(ins[:2]).Send(ctx, poisoned, world.EditedMessage(poisoned, 7100)))
	require.True(t, proctest.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		return len(world.LinesNamed(bot1.Cluster.Lines(), "DEAD_LETTERED")) == 1
	}), "the poisoned update is dead-lettered")

	var alerts []promAlert
	require.True(t, proctest.Eventually(30*time.Second, 250*time.Millisecond, func() bool {
		alerts = prom.alerts(t)
		for _, a := range alerts {
			if a.Labels["alertname"] == "DispatcherDeadLettersGrowing" && a.State == "firing" {
				return true
			}
		}
		return false
	}), "the first dead letter fires DispatcherDeadLettersGrowing; alerts: %v", alerts)
	var seen []string
	for _, a := range alerts {
		seen = append(seen, a.Labels["alertname"]+"/"+a.Labels["redis_namespace"]+"/"+a.State)
		name, ns := a.Labels["alertname"], a.Labels["redis_namespace"]
		switch {
		case name == "DispatcherDeadLettersGrowing", name == "DispatcherDispatchFailureRatio": // the panic is a failed dispatch too
			require.Equal(t, bot1.NS, ns, "%s names bot 1 only", name)
		case name == "DispatcherShardWithTwoActive":
			t.Errorf("%s is %s for %q: the two bots' shards were summed together", name, a.State, ns)
		case a.State == "firing":
			t.Errorf("%s fires for %q: healthy deployments must not alert", name, ns)
		default:
			// pending: a lease lost for a moment on a loaded machine, which
			// the rule's for: waits out
		}
	}
	sort.Strings(seen)
	t.Logf("Prometheus alerts after bot 1's first dead letter: %v", seen)
}

type promProc struct{ url string }

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// startPrometheus runs Prometheus scraping targets every second and
// evaluating alerts.yml every second, and waits until it answers.
func startPrometheus(t *testing.T, bin string, targets []*proctest.Instance) *promProc {
	t.Helper()
	dir := t.TempDir()
	rules, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alerts.yml"), rules, 0o644))
	var addrs []string
	for _, in := range targets {
		addrs = append(addrs, strconv.Quote(in.Addr))
	}
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: bots/pods
    static_configs:
      - targets: [%s]
`, filepath.Join(dir, "alerts.yml"), strings.Join(addrs, ", "))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o644))
	listen := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen, "--log.level=warn")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})
	p := &promProc{url: "http://" + listen}
	require.True(t, proctest.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}), "prometheus ready")
	return p
}

func (p *promProc) get(t *testing.T, path string, out any) {
	t.Helper()
	resp, err := http.Get(p.url + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "success", body.Status, "%s: %s", path, body.Error)
	require.NoError(t, json.Unmarshal(body.Data, out))
}

// query returns the series of an instant query.
func (p *promProc) query(t *testing.T, q string) []map[string]any {
	t.Helper()
	var data struct {
		Result []map[string]any `json:"result"`
	}
	p.get(t, "/api/v1/query?query="+url.QueryEscape(q), &data)
	return data.Result
}

// alerts returns the pending and firing alerts.
func (p *promProc) alerts(t *testing.T) []promAlert {
	t.Helper()
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	p.get(t, "/api/v1/alerts", &data)
	return data.Alerts
}
