package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Profile is a CPU profile summary of one workload.
type Profile struct {
	Name    string  `json:"name"`
	What    string  `json:"what"`
	Command string  `json:"command"`
	Rate    float64 `json:"rate"` // updates a second while profiled
	Updates int     `json:"updates"`
	// CPU is the sampled CPU time of the process in ms; Breakdown splits it
	// by what it was spent under (shares overlap where one part calls
	// another; they need not add up to 100%).
	CPU       float64 `json:"cpu_ms"`
	Breakdown []Share `json:"breakdown"`
	// Redis is the time Redis spent inside each command and script during
	// the same run, per update (SLOWLOG at 0 µs).
	Redis []RedisShare `json:"redis,omitempty"`
	Cum   string       `json:"cum"` // go tool pprof -top -cum
}

// Share is the part of a profile spent under some calls.
type Share struct {
	Name   string  `json:"name"`
	Pct    float64 `json:"pct"`
	PerUpd float64 `json:"us_per_update"`
	Focus  string  `json:"focus"`
	Ignore string  `json:"ignore,omitempty"`
}

// category is a named pprof -focus (and -ignore) filter.
type category struct{ name, focus, ignore string }

var ingestCategories = []category{
	{"webhook handler (ingest.Handler.ServeHTTP), in all", `ingest\.\(\*Handler\)\.ServeHTTP`, ""},
	{"· the Lua append as the request sees it: queue.Enqueue, or the hand-over to queue.Batcher", `queue\.\(\*(Queue|Batcher)\)\.Enqueue`, ""},
	{"· reading the update's id, type, chat and user (update.Scan)", `update\.Scan`, ""},
	{"· the QUEUE_ENQUEUE line (encode, write to stdout, hand to the journal)", `telemetry\.\(\*Logger\)`, ""},
	{"group commit: queue.Batcher's round trips (its goroutines, one script call per batch)", `queue\.\(\*Batcher\)\.flush`, ""},
	{"net/http server outside the handler (read request, write answer)", `net/http\.\(\*conn\)\.serve`, `ingest\.\(\*Handler\)`},
	{"event journal writer (pipelined writes to Redis)", `journal\.\(\*Journal\)\.Run`, ""},
	{"garbage collector", `gcBgMarkWorker`, ""},
}

var queueCategories = []category{
	{"webhook handler (ingest.Handler.ServeHTTP, no HTTP), in all", `ingest\.\(\*Handler\)\.ServeHTTP`, ""},
	{"· the Lua append: queue.Enqueue, or the hand-over to queue.Batcher", `queue\.\(\*(Queue|Batcher)\)\.Enqueue`, ""},
	{"group commit: queue.Batcher's round trips (its goroutines, one script call per batch)", `queue\.\(\*Batcher\)\.flush`, ""},
	{"· reading the update's id, type, chat and user (update.Scan)", `update\.Scan`, `worker\.`},
	{"· the QUEUE_ENQUEUE line", `telemetry\.\(\*Logger\)`, `worker\.`},
	{"worker pool, in all", `worker\.\(\*(run|Pool)\)`, ""},
	{"· fenced reads and blocking waits (ReadNew, WaitNew, ClaimPending)", `queue\.\(\*Queue\)\.(ReadNew|WaitNew|ClaimPending)`, ""},
	{"· the fenced ack as the dispatch sees it (hand-over to queue.Acker)", `queue\.\(\*Acker\)\.Ack`, ""},
	{"· decoding the update for the handler (update.Decode)", `update\.Decode`, `ingest\.`},
	{"· QUEUE_PICK, DISPATCH_START, DISPATCH_OK lines", `telemetry\.\(\*Logger\)`, `ingest\.`},
	{"group-committed acks: queue.Acker's round trips (its goroutines, one fenced XACK + XDEL per batch)", `queue\.\(\*Acker\)\.flush`, ""},
	{"event journal writer (pipelined writes to Redis)", `journal\.\(\*Journal\)\.Run`, ""},
	{"lease manager (renewals)", `lease\.\(\*Manager\)`, `worker\.`},
	{"garbage collector", `gcBgMarkWorker`, ""},
}

// runReplica serves the webhook exactly as an instance does (the same
// ingest.Handler, queue, telemetry with the event journal, metrics and
// config defaults) behind net/http, with no worker (as a PASSIVE
// instance), writing a CPU profile until SIGTERM.
func runReplica(args []string) int {
	fs := flag.NewFlagSet("replica", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	url := fs.String("redis", "", "redis URL")
	ns := fs.String("ns", "br", "namespace")
	logFile := fs.String("log", os.DevNull, "event lines")
	cpuprofile := fs.String("cpuprofile", "", "CPU profile file")
	journal := fs.Bool("journal", true, "the event journal on (as served)")
	_ = fs.Parse(args)
	out, err := os.Create(*logFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		return 1
	}
	defer out.Close()
	p, err := newPipeline(PipelineOptions{RedisURL: *url, Namespace: *ns, Instance: "bench-replica", Journal: *journal, LogOut: out})
	if err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		return 1
	}
	defer p.Close()
	mux := http.NewServeMux()
	mux.Handle("/webhook", p.webhook)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "replica:", err)
			return 1
		}
		_ = pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	return serveUntilSignal("replica", *addr, mux)
}

// Attribution compares the service's code with its event journal on (as
// served) and off (an experiment: the service has no switch for it), to
// show what the journal costs.
type Attribution struct {
	Name string  `json:"name"`
	On   CostRun `json:"journal_on"`
	Off  CostRun `json:"journal_off"`
	Runs int     `json:"runs"`
}

// CostRun is throughput and CPU per update (medians).
type CostRun struct {
	Throughput float64 `json:"throughput"`
	ProcCPU    float64 `json:"process_cpu_us"`
	RedisCPU   float64 `json:"redis_cpu_us"`
}

// replicaRun starts the replica, posts n updates with 32 in flight and
// stops it; it returns the rate and the replica's and Redis's CPU µs per
// update during the load.
func replicaRun(ctx context.Context, e *Env, n int, profile string, journal bool) (int, CostRun, error) {
	if err := e.Redis.Reset(ctx); err != nil {
		return 0, CostRun{}, err
	}
	port, err := freePort()
	if err != nil {
		return 0, CostRun{}, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"replica", "-addr", addr, "-redis", e.Redis.URL(), "-log", filepath.Join(e.Work, "replica.log"),
		"-journal=" + strconv.FormatBool(journal)}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	cmd := exec.Command(e.Self, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, CostRun{}, err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(end) {
			return 0, CostRun{}, fmt.Errorf("replica did not listen")
		}
	}
	l, err := newLoad([]string{"http://" + addr + "/webhook"}, benchSecret, 32)
	if err != nil {
		return 0, CostRun{}, err
	}
	defer l.Close()
	meter := newCPUMeter(map[string]int{"proc": cmd.Process.Pid, "redis": e.Redis.Pid(ctx)})
	samples, wall := l.Closed(e.All.Bodies(e.ids(n), n, 5), 32, 2*time.Minute)
	cpu := meter.Stop()
	ok := tally(samples).OK
	if ok == 0 {
		return 0, CostRun{}, fmt.Errorf("replica answered no request with 200")
	}
	return ok, CostRun{Throughput: float64(ok) / wall.Seconds(), ProcCPU: cpu["proc"] * 1e6 / float64(ok),
		RedisCPU: cpu["redis"] * 1e6 / float64(ok)}, nil
}

func benchProfile(ctx context.Context, e *Env, attr *[]Attribution) ([]Profile, error) {
	n := 20000
	if e.Quick {
		n = 3000
	}
	var out []Profile

	// 1. the webhook path under the ingest section's load
	prof := filepath.Join(e.Work, "ingest.pprof")
	if err := startSlowlog(ctx, e.Redis); err != nil {
		return nil, err
	}
	ok, c, err := replicaRun(ctx, e, n, prof, true)
	shares := stopSlowlog(ctx, e.Redis, e.Repo, ok)
	if err != nil {
		return nil, err
	}
	p := Profile{Name: "ingest", Rate: c.Throughput, Updates: ok,
		What:    "the webhook path in-process (ingest.Handler, queue.Enqueue, telemetry with the journal) behind net/http, no worker; same load as the ingest section",
		Command: fmt.Sprintf("bench replica -cpuprofile ingest.pprof, %d POSTs with 32 in flight; go tool pprof -top [-cum]", n)}
	p.CPU, p.Breakdown, p.Cum = pprofSummary(prof, ingestCategories, p.Updates)
	p.Redis = shares
	out = append(out, p)
	recordCommand("bench replica -addr 127.0.0.1:PORT -redis redis://127.0.0.1:PORT -journal=true|false [-cpuprofile FILE]   # the webhook path in-process, profiled")
	logf("profile ingest: %.0f/s while profiled", p.Rate)

	// 2. ours in the queue benchmark (no HTTP)
	qprof := filepath.Join(e.Work, "queue.pprof")
	if err := startSlowlog(ctx, e.Redis); err != nil {
		return out, err
	}
	r, _, err := queueRun(ctx, e, "ours", n, e.Redis.Pid(ctx), "-cpuprofile", qprof)
	qshares := stopSlowlog(ctx, e.Redis, e.Repo, n)
	if err != nil {
		return out, err
	}
	q := Profile{Name: "queue", Rate: r.Throughput, Updates: n,
		What:    "ours in the peer benchmark: webhook handler called without HTTP, worker pool with a no-op handler, journal on",
		Command: fmt.Sprintf("bench queue -system ours -n %d -cpuprofile queue.pprof; go tool pprof -top [-cum]", n)}
	q.CPU, q.Breakdown, q.Cum = pprofSummary(qprof, queueCategories, n)
	q.Redis = qshares
	out = append(out, q)
	recordCommand(fmt.Sprintf("bench queue -system ours -n %d -journal=true|false [-cpuprofile FILE]   # ours alone, profiled, and the journal's cost", n))
	logf("profile queue: %.0f/s while profiled", q.Rate)

	// 3. the journal's cost: on and off, alternated
	runs := min(e.Runs, 3)
	ing := Attribution{Name: "webhook path (replica behind net/http)", Runs: runs}
	que := Attribution{Name: "queue, ours (no HTTP)", Runs: runs}
	var ingOn, ingOff, queOn, queOff []CostRun
	redisPid := e.Redis.Pid(ctx)
	for range runs {
		for _, on := range []bool{true, false} {
			_, c, err := replicaRun(ctx, e, n, "", on)
			if err != nil {
				return out, err
			}
			r, rcpu, err := queueRun(ctx, e, "ours", n, redisPid, "-journal="+strconv.FormatBool(on))
			if err != nil {
				return out, err
			}
			qc := CostRun{Throughput: r.Throughput, ProcCPU: r.ProcCPU, RedisCPU: rcpu}
			if on {
				ingOn, queOn = append(ingOn, c), append(queOn, qc)
			} else {
				ingOff, queOff = append(ingOff, c), append(queOff, qc)
			}
			logf("journal %-5v: webhook %.0f/s (%.0f + %.0f µs), queue %.0f/s (%.0f + %.0f µs)", on,
				c.Throughput, c.ProcCPU, c.RedisCPU, qc.Throughput, qc.ProcCPU, qc.RedisCPU)
		}
	}
	ing.On, ing.Off, que.On, que.Off = medianCost(ingOn), medianCost(ingOff), medianCost(queOn), medianCost(queOff)
	*attr = []Attribution{ing, que}
	return out, nil
}

func medianCost(xs []CostRun) CostRun {
	return CostRun{Throughput: median(pick(xs, func(c CostRun) float64 { return c.Throughput })),
		ProcCPU:  median(pick(xs, func(c CostRun) float64 { return c.ProcCPU })),
		RedisCPU: median(pick(xs, func(c CostRun) float64 { return c.RedisCPU }))}
}

// pprofSummary returns the profile's sampled CPU (ms), its breakdown by
// category and the cumulative top list.
func pprofSummary(path string, cats []category, updates int) (float64, []Share, string) {
	run := func(extra ...string) (string, error) {
		args := append([]string{"tool", "pprof", "-top"}, extra...)
		b, err := exec.Command("go", append(args, path)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("pprof: %w: %s", err, b)
		}
		return string(b), nil
	}
	top, err := run("-cum", "-nodecount=30")
	if err != nil {
		return 0, nil, err.Error()
	}
	var keep []string
	var total float64
	for _, line := range strings.Split(strings.TrimSpace(top), "\n") {
		if v, ok := strings.CutPrefix(line, "Duration: "); ok {
			if _, t, ok := strings.Cut(v, "Total samples = "); ok {
				total = parseMS(strings.Fields(t)[0])
			}
		}
		if strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Build ID:") || strings.HasPrefix(line, "Type:") || strings.HasPrefix(line, "Time:") {
			continue
		}
		keep = append(keep, line)
	}
	var shares []Share
	for _, c := range cats {
		args := []string{"-nodecount=1000000", "-focus=" + c.focus}
		if c.ignore != "" {
			args = append(args, "-ignore="+c.ignore)
		}
		out, err := run(args...)
		if err != nil {
			continue
		}
		sh := Share{Name: c.name, Focus: c.focus, Ignore: c.ignore}
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(line, "Showing nodes accounting for "); ok {
				f := strings.Fields(strings.ReplaceAll(v, ",", ""))
				if len(f) > 0 {
					spent := parseMS(f[0])
					if total > 0 {
						sh.Pct = 100 * spent / total
					}
					if updates > 0 {
						sh.PerUpd = spent * 1000 / float64(updates)
					}
				}
			}
		}
		shares = append(shares, sh)
	}
	return total, shares, strings.Join(keep, "\n")
}

// parseMS reads a pprof amount ("870ms", "1.23s", "0") in milliseconds.
func parseMS(s string) float64 {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return ms(d)
}
