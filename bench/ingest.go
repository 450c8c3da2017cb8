package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// IngestRun is one run of one configuration.
type IngestRun struct {
	Throughput float64            `json:"throughput"` // 200 answers a second
	P50        float64            `json:"p50_ms"`
	P99        float64            `json:"p99_ms"`
	OK         int                `json:"ok"`
	Failed     int                `json:"failed"`
	Seconds    float64            `json:"seconds"`
	CPU        map[string]float64 `json:"cpu_us_per_request,omitempty"` // process -> CPU µs per request
	// Redis commands per 200 answer (INFO commandstats): script calls,
	// and every command (the scripts' own included)
	Scripts  float64 `json:"redis_scripts_per_request,omitempty"`
	Commands float64 `json:"redis_commands_per_request,omitempty"`
}

// IngestConfig is one configuration with its runs and their medians.
type IngestConfig struct {
	Key        string             `json:"key"`
	Name       string             `json:"name"`
	Runs       []IngestRun        `json:"runs"`
	Throughput float64            `json:"throughput"` // medians over the runs
	TputMin    float64            `json:"throughput_min"`
	TputMax    float64            `json:"throughput_max"`
	P50        float64            `json:"p50_ms"`
	P99        float64            `json:"p99_ms"`
	CPU        map[string]float64 `json:"cpu_us_per_request,omitempty"`
	Scripts    float64            `json:"redis_scripts_per_request,omitempty"`
	Commands   float64            `json:"redis_commands_per_request,omitempty"`
}

// IngestResults is the ingest section.
type IngestResults struct {
	Requests  int            `json:"requests"`
	Conns     int            `json:"conns"`
	BodyBytes int            `json:"body_bytes"`
	Fixtures  []string       `json:"fixtures"`
	Configs   []IngestConfig `json:"configs"`
	Ratio1    float64        `json:"ratio_one_instance_to_floor"`
	Ratio3    float64        `json:"ratio_three_instances_to_floor"`
	RatioRB   float64        `json:"ratio_floor_to_redis_benchmark"`
}

func (r *IngestResults) config(key string) *IngestConfig {
	for i := range r.Configs {
		if r.Configs[i].Key == key {
			return &r.Configs[i]
		}
	}
	return nil
}

// instanceEnv is the environment of every measured instance: defaults
// everywhere except what the bench needs (its Redis and namespace, a
// webhook secret; sandbox mode since no real Telegram is reached, said with
// SANDBOX=true as a shared Redis requires).
func instanceEnv(e *Env, ns string, extra map[string]string) map[string]string {
	env := map[string]string{"REDIS_URL": e.Redis.URL(), "REDIS_NAMESPACE": ns, "WEBHOOK_SECRET": benchSecret,
		"BOT_TOKEN": "", "SANDBOX": "true", "LOG_FORMAT": "json", "LOG_LEVEL": "info"}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func envString(env map[string]string) string {
	var parts []string
	for _, k := range []string{"REDIS_URL", "REDIS_NAMESPACE", "WEBHOOK_SECRET", "BOT_TOKEN", "SANDBOX", "LOG_FORMAT", "LOG_LEVEL",
		"LEASE_TTL", "SHUTDOWN_TIMEOUT", "DISPATCHER_FAULTS"} {
		if v, ok := env[k]; ok {
			if k == "REDIS_URL" {
				v = "redis://127.0.0.1:PORT"
			}
			if v == "" {
				v = "''"
			}
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// holdLease makes this process the ACTIVE holder of every shard of ns, so
// that instances started there stay PASSIVE: they ingest and dispatch
// nothing. The returned function releases it.
func holdLease(c redis.UniversalClient, ns string) (func(), error) {
	m, err := lease.NewManager(lease.Config{Client: c, Keys: keys.New(ns), Shards: 1, Instance: "bench-lease-holder",
		TTL: 10 * time.Second, Log: telemetry.Nop(), Metrics: metrics.NewTest(),
		OnStarted: func(ctx context.Context, shard int, token int64) { <-ctx.Done() }})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for !m.Active() {
		if time.Now().After(deadline) {
			cancel()
			<-done
			return nil, fmt.Errorf("bench could not take the lease of %s", ns)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return func() { cancel(); <-done }, nil
}

// startHelper runs one of this program's servers (the floor, or a
// reference server of the ledger) as a process of its own, listening on a
// free loopback port, its output to name.log; it returns once the port
// accepts connections.
func startHelper(e *Env, name string, args ...string) (*exec.Cmd, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(e.Self, append(args, "-addr", addr, "-redis", e.Redis.URL())...)
	out, _ := os.Create(filepath.Join(e.Work, name+".log"))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return cmd, addr, nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, "", fmt.Errorf("%s did not listen", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ledgerStep is one reference server of the ingest section's ledger.
type ledgerStep struct {
	key, name, ns string
	args          []string // the subcommand and its flags (-addr and -redis are added)
	command       string   // for the report's exact commands
}

// ledgerSteps go from the floor to an instance as served, each adding one
// part of the dispatcher's work to the one before.
func ledgerSteps(e *Env) []ledgerStep {
	return []ledgerStep{
		{"group", "ledger: group commit alone", "", []string{"groupfloor"},
			"bench groupfloor -addr 127.0.0.1:PORT -redis redis://127.0.0.1:PORT   # ledger: the floor's XADDs of concurrent requests in one pipeline"},
		{"layer", "ledger: the dispatcher's queue layer", "bl", []string{"queuelayer", "-ns", "bl"},
			"bench queuelayer -ns bl -addr 127.0.0.1:PORT -redis redis://127.0.0.1:PORT   # ledger: ingest.Handler and queue.Batcher with the config defaults; no lines, no journal"},
		{"nojournal", "ledger: the webhook in-process, no journal", "bn", []string{"replica", "-ns", "bn", "-journal=false", "-log", filepath.Join(e.Work, "replica-nojournal-lines.log")},
			"bench replica -ns bn -journal=false -log FILE -addr 127.0.0.1:PORT -redis redis://127.0.0.1:PORT   # ledger: an instance's webhook in-process, event lines to a file, no journal"},
		{"inproc", "ledger: the webhook in-process, as served", "br", []string{"replica", "-ns", "br", "-log", filepath.Join(e.Work, "replica-lines.log")},
			"bench replica -ns br -log FILE -addr 127.0.0.1:PORT -redis redis://127.0.0.1:PORT   # ledger: the same with the event journal"},
	}
}

func benchIngest(ctx context.Context, e *Env) (*IngestResults, error) {
	n, conns := 20000, 32
	if e.Quick {
		n = 3000
	}
	res := &IngestResults{Requests: n, Conns: conns, BodyBytes: e.All.MeanSize(), Fixtures: e.All.Names()}
	if err := e.Redis.Reset(ctx); err != nil {
		return nil, err
	}
	const ns = "bi"
	release, err := holdLease(e.Redis.Client, ns)
	if err != nil {
		return nil, err
	}
	defer release()
	var ins []*Instance
	defer func() {
		for _, in := range ins {
			in.Stop()
		}
	}()
	ienv := instanceEnv(e, ns, nil)
	recordCommand("dispatcher serve   # ingest: 1 and 3 instances, env " + envString(ienv) + " LISTEN_ADDR=127.0.0.1:PORT INSTANCE_ID=bench-ingest-N (PASSIVE: the bench holds the lease)")
	for i := range 3 {
		in, err := startInstance(e.Bin, e.Work, fmt.Sprintf("bench-ingest-%d", i), ienv)
		if err != nil {
			return nil, err
		}
		ins = append(ins, in)
	}
	for _, in := range ins {
		if err := in.WaitRole("PASSIVE", 30*time.Second); err != nil {
			return nil, err
		}
	}
	var helpers []*exec.Cmd
	defer func() {
		for _, h := range helpers {
			_ = h.Process.Signal(syscall.SIGTERM)
			_ = h.Wait()
		}
	}()
	floor, floorAddr, err := startHelper(e, "floor", "floor")
	if err != nil {
		return nil, err
	}
	helpers = append(helpers, floor)
	recordCommand("bench floor -addr 127.0.0.1:PORT -redis redis://127.0.0.1:PORT   # the floor: net/http + one XADD per request")
	redisPid := e.Redis.Pid(ctx)

	type target struct {
		key, name string
		urls      []string
		pids      map[string]int
	}
	url := func(in *Instance) string { return in.URL("/webhook") }
	targets := []target{
		{"one", "dispatcher, 1 instance", []string{url(ins[0])}, map[string]int{"server": ins[0].Pid()}},
		{"three", "dispatcher, 3 instances", []string{url(ins[0]), url(ins[1]), url(ins[2])},
			map[string]int{"server": ins[0].Pid(), "server2": ins[1].Pid(), "server3": ins[2].Pid()}},
		{"floor", "floor: net/http + XADD", []string{"http://" + floorAddr + "/"}, map[string]int{"server": floor.Process.Pid}},
	}
	namespaces := []string{ns}
	for _, st := range ledgerSteps(e) {
		cmd, addr, err := startHelper(e, st.key, st.args...)
		if err != nil {
			return nil, err
		}
		helpers = append(helpers, cmd)
		recordCommand(st.command)
		targets = append(targets, target{st.key, st.name, []string{"http://" + addr + "/webhook"}, map[string]int{"server": cmd.Process.Pid}})
		if st.ns != "" {
			namespaces = append(namespaces, st.ns)
		}
	}
	for _, t := range targets {
		res.Configs = append(res.Configs, IngestConfig{Key: t.key, Name: t.name})
	}
	res.Configs = append(res.Configs, IngestConfig{Key: "redis-benchmark", Name: "redis-benchmark XADD"})
	recordCommand(fmt.Sprintf("load: %d POSTs a run (unique update_ids, %d fixtures, 5,000 chats), %d in flight (closed loop), to 127.0.0.1 only", n, len(e.All.Names()), conns))

	cleanup := func() error {
		c := e.Redis.Client
		c.Del(ctx, floorStream, "rb:stream")
		for _, ns := range namespaces {
			if err := c.XTrimMaxLen(ctx, keys.New(ns).Shard(0).Stream(), 0).Err(); err != nil {
				return err
			}
			for _, pat := range []string{"{" + ns + ":*}:seen:*", ns + ":journal:*"} {
				if _, err := e.Redis.Unlink(ctx, pat); err != nil {
					return err
				}
			}
		}
		if e.Redis.AOFSize(ctx) > 256<<20 {
			return e.Redis.Rewrite(ctx)
		}
		return nil
	}
	// warm-up: connections, JIT-free but caches and pools
	for _, t := range targets {
		l, err := newLoad(t.urls, benchSecret, conns)
		if err != nil {
			return nil, err
		}
		l.Closed(e.All.Bodies(e.ids(n/5), n/5, 1), conns, time.Minute)
		l.Close()
	}
	for r := range e.Runs {
		for i, t := range targets {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err := cleanup(); err != nil {
				return nil, err
			}
			l, err := newLoad(t.urls, benchSecret, conns)
			if err != nil {
				return nil, err
			}
			bodies := e.All.Bodies(e.ids(n), n, uint64(r*10+i))
			pids := map[string]int{"redis": redisPid, "loadgen": os.Getpid()}
			for k, v := range t.pids {
				pids[k] = v
			}
			_ = e.Redis.ResetStats(ctx)
			meter := newCPUMeter(pids)
			samples, wall := l.Closed(bodies, conns, 2*time.Minute)
			cpu := meter.Stop()
			scripts, all := e.Redis.Commands(ctx)
			l.Close()
			tl := tally(samples)
			d := distOf(latencies(samples))
			run := IngestRun{Throughput: float64(tl.OK) / wall.Seconds(), P50: d.P50, P99: d.P99, OK: tl.OK,
				Failed: tl.Other + tl.Errors + tl.Unsent, Seconds: wall.Seconds(), CPU: perRequest(cpu, tl.OK)}
			if tl.OK > 0 {
				run.Scripts, run.Commands = float64(scripts)/float64(tl.OK), float64(all)/float64(tl.OK)
			}
			res.config(t.key).Runs = append(res.config(t.key).Runs, run)
			logf("ingest %-24s run %d: %7.0f/s p50 %.2f ms p99 %.2f ms failed %d", t.name, r+1, run.Throughput, run.P50, run.P99, run.Failed)
		}
		if err := cleanup(); err != nil {
			return nil, err
		}
		rb, err := redisBenchmark(e, n, conns, redisPid)
		if err != nil {
			return nil, err
		}
		res.config("redis-benchmark").Runs = append(res.config("redis-benchmark").Runs, rb)
		logf("ingest %-24s run %d: %7.0f/s p50 %.2f ms p99 %.2f ms", "redis-benchmark XADD", r+1, rb.Throughput, rb.P50, rb.P99)
	}
	_ = cleanup()
	for i := range res.Configs {
		summarizeIngest(&res.Configs[i])
	}
	if f := res.config("floor").Throughput; f > 0 {
		res.Ratio1 = res.config("one").Throughput / f
		res.Ratio3 = res.config("three").Throughput / f
		if rb := res.config("redis-benchmark").Throughput; rb > 0 {
			res.RatioRB = f / rb
		}
	}
	return res, nil
}

func perRequest(cpu map[string]float64, n int) map[string]float64 {
	if n == 0 {
		return nil
	}
	out := map[string]float64{}
	for k, v := range cpu {
		base := k
		if strings.HasPrefix(k, "server") {
			base = "server"
		}
		out[base] += v * 1e6 / float64(n)
	}
	return out
}

func summarizeIngest(c *IngestConfig) {
	c.Throughput = median(pick(c.Runs, func(r IngestRun) float64 { return r.Throughput }))
	c.TputMin, c.TputMax = minMax(pick(c.Runs, func(r IngestRun) float64 { return r.Throughput }))
	c.P50 = median(pick(c.Runs, func(r IngestRun) float64 { return r.P50 }))
	c.P99 = median(pick(c.Runs, func(r IngestRun) float64 { return r.P99 }))
	c.Scripts = median(pick(c.Runs, func(r IngestRun) float64 { return r.Scripts }))
	c.Commands = median(pick(c.Runs, func(r IngestRun) float64 { return r.Commands }))
	c.CPU = map[string]float64{}
	for _, k := range []string{"server", "redis", "loadgen"} {
		var xs []float64
		for _, r := range c.Runs {
			if v, ok := r.CPU[k]; ok {
				xs = append(xs, v)
			}
		}
		if len(xs) > 0 {
			c.CPU[k] = median(xs)
		}
	}
}

// redisBenchmark runs redis-benchmark on the same append as the floor: one
// XADD of an update body (of the mean size) per request, conns clients, n
// requests, no pipelining.
func redisBenchmark(e *Env, n, conns, redisPid int) (IngestRun, error) {
	body := e.All.Bodies(e.ids(1), 1, 99)[0]
	for _, b := range e.All.Bodies(e.ids(50), 50, 98) {
		if abs(len(b)-e.All.MeanSize()) < abs(len(body)-e.All.MeanSize()) {
			body = b
		}
	}
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(e.Redis.Port), "-c", strconv.Itoa(conns), "-n", strconv.Itoa(n),
		"--csv", "XADD", "rb:stream", "*", "payload", string(body)}
	recordCommand(fmt.Sprintf("redis-benchmark -h 127.0.0.1 -p PORT -c %d -n %d --csv XADD rb:stream '*' payload '<an update body of %d bytes>'", conns, n, len(body)))
	_ = e.Redis.ResetStats(context.Background())
	meter := newCPUMeter(map[string]int{"redis": redisPid})
	cmd := exec.Command("redis-benchmark", args...)
	out, err := cmd.Output()
	cpu := meter.Stop()
	scripts, all := e.Redis.Commands(context.Background())
	if err != nil {
		return IngestRun{}, fmt.Errorf("redis-benchmark: %w", err)
	}
	// the test name (the command, with its JSON) is not CSV-escaped by
	// redis-benchmark: read the header, and the numbers from the end of the
	// last line
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 {
		return IngestRun{}, fmt.Errorf("redis-benchmark output %q", out)
	}
	head := strings.Split(lines[0], ",")
	row := strings.Split(lines[len(lines)-1], ",")
	if len(row) < len(head) {
		return IngestRun{}, fmt.Errorf("redis-benchmark output %q", out)
	}
	row = row[len(row)-len(head)+1:]
	get := func(name string) float64 {
		for i, h := range head[1:] {
			if strings.Trim(h, `"`) == name {
				f, _ := strconv.ParseFloat(strings.Trim(row[i], `"`), 64)
				return f
			}
		}
		return 0
	}
	rps := get("rps")
	return IngestRun{Throughput: rps, P50: get("p50_latency_ms"), P99: get("p99_latency_ms"), OK: n,
		Seconds: float64(n) / rps, CPU: perRequest(cpu, n), Scripts: float64(scripts) / float64(n),
		Commands: float64(all) / float64(n)}, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
