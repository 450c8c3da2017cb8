package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// MemoryResults is the memory section.
type MemoryResults struct {
	// resident memory of one instance during the 1,000 updates/s runs of
	// the end-to-end section (per handler): median over runs of each run's
	// highest sample, and the highest sample of all
	RSS []RSSFigure `json:"rss"`
	// Redis bytes, medians over runs
	N           int          `json:"n"`
	PayloadMean int          `json:"payload_mean"`
	Runs        []RedisBytes `json:"runs"`
	Pending     float64      `json:"pending_bytes"`    // a queued update (stream entry + dedupe marker)
	Remembered  float64      `json:"remembered_bytes"` // an update_id remembered after the update was handled
	Journal     float64      `json:"journal_bytes"`    // the event journal of one handled update
}

// RSSFigure is one handler's resident memory at 1,000 updates/s.
type RSSFigure struct {
	Handler string  `json:"handler"`
	Median  float64 `json:"median_mib"`
	Max     float64 `json:"max_mib"`
}

// RedisBytes is one redismem run.
type RedisBytes struct {
	Pending    float64 `json:"pending_bytes"`
	Remembered float64 `json:"remembered_bytes"`
	Journal    float64 `json:"journal_bytes"`
}

func benchMemory(ctx context.Context, e *Env, e2e *E2EResults) (*MemoryResults, error) {
	n := 20000
	if e.Quick {
		n = 3000
	}
	res := &MemoryResults{N: n, PayloadMean: e.Noop.MeanSize()}
	if e2e != nil {
		for _, h := range e2e.Handlers {
			for _, p := range h.Points {
				if p.Rate != 1000 {
					continue
				}
				var xs []float64
				for _, r := range p.Runs {
					xs = append(xs, float64(r.RSSMax)/(1<<20))
				}
				_, hi := minMax(xs)
				res.RSS = append(res.RSS, RSSFigure{Handler: h.Name, Median: median(xs), Max: hi})
			}
		}
	}
	recordCommand(fmt.Sprintf("bench redismem -redis redis://127.0.0.1:PORT -n %d -fixtures internal/queue/testdata/updates   # Redis emptied before each run", n))
	for i := range e.Runs {
		if err := e.Redis.Reset(ctx); err != nil {
			return nil, err
		}
		var r RedisBytes
		if err := runSub(ctx, e, &r, "redismem", "-redis", e.Redis.URL(), "-n", strconv.Itoa(n), "-fixtures", e.Fixtures); err != nil {
			return nil, err
		}
		res.Runs = append(res.Runs, r)
		logf("memory run %d: pending %.0f B, remembered update_id %.0f B, journal %.0f B per update", i+1, r.Pending, r.Remembered, r.Journal)
	}
	res.Pending = median(pick(res.Runs, func(r RedisBytes) float64 { return r.Pending }))
	res.Remembered = median(pick(res.Runs, func(r RedisBytes) float64 { return r.Remembered }))
	res.Journal = median(pick(res.Runs, func(r RedisBytes) float64 { return r.Journal }))
	return res, nil
}

// runRedisMem is the subcommand that measures Redis bytes per update on an
// empty Redis, as growths of INFO used_memory (less the clients' buffers)
// divided by n:
//
//  1. pending: n updates through the webhook handler with no consumer;
//  2. remembered: after a worker pool handled and acknowledged them all,
//     what stays is their dedupe markers (DEDUPE_WINDOW, 1 h by default);
//  3. journal: Redis emptied, n updates enqueued and handled again with the
//     event journal on (JOURNAL_TTL, 24 h by default): growth minus 2.
func runRedisMem(args []string) int {
	fs := flag.NewFlagSet("redismem", flag.ExitOnError)
	url := fs.String("redis", "", "redis URL")
	n := fs.Int("n", 20000, "updates")
	fixtures := fs.String("fixtures", "", "fixtures directory")
	_ = fs.Parse(args)
	corpus, err := loadCorpus(*fixtures, noopFixtures, 5000)
	var r RedisBytes
	if err == nil {
		r, err = redisMem(*url, corpus, *n)
	}
	return printResult("redismem", r, err)
}

// runSub runs one of this program's subcommands and decodes the JSON it
// prints into out.
func runSub(ctx context.Context, e *Env, out any, args ...string) error {
	cmd := exec.CommandContext(ctx, e.Self, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", args[0], err, stderr.String())
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: %w: %q", args[0], err, b)
	}
	return nil
}

// printResult ends a subcommand: its result as JSON on stdout (exit code
// 0), or its error on stderr (1).
func printResult(name string, v any, err error) int {
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	_ = json.NewEncoder(os.Stdout).Encode(v)
	return 0
}

func redisMem(url string, corpus *Corpus, n int) (RedisBytes, error) {
	ctx := context.Background()
	opt, err := redis.ParseURL(url)
	if err != nil {
		return RedisBytes{}, err
	}
	c := redis.NewClient(opt)
	defer c.Close()
	// used is INFO used_memory less the clients' buffers (mem_clients_normal),
	// which follow the load of the moment, not what is stored
	used := func() float64 {
		time.Sleep(200 * time.Millisecond) // let lazy frees settle
		s, _ := c.Info(ctx, "memory").Result()
		var total, clients float64
		for _, line := range strings.Split(s, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				total, _ = strconv.ParseFloat(v, 64)
			}
			if v, ok := strings.CutPrefix(line, "mem_clients_normal:"); ok {
				clients, _ = strconv.ParseFloat(v, 64)
			}
		}
		return total - clients
	}
	// one pass: enqueue n, measure, then handle them all, measure
	pass := func(journal bool, first int64) (base, queued, handled float64, err error) {
		h := newNoop(int64(n))
		p, err := newPipeline(PipelineOptions{RedisURL: url, Namespace: "bm", Instance: "bench-mem", Journal: journal, Handler: h})
		if err != nil {
			return 0, 0, 0, err
		}
		defer p.Close()
		if err := p.rc.Ping(ctx).Err(); err != nil { // connects, as the measured state will
			return 0, 0, 0, err
		}
		base = used()
		bodies := corpus.Bodies(first, n, 3)
		var bad atomic.Int64
		if errs, _ := produce(bodies, 8, func(b []byte) error {
			if code := p.Enqueue(b); code != 200 {
				bad.Add(1)
			}
			return nil
		}); errs > 0 || bad.Load() > 0 {
			return 0, 0, 0, fmt.Errorf("%d enqueues failed", bad.Load())
		}
		queued = used()
		if err := p.StartWorkers(10 * time.Second); err != nil {
			return 0, 0, 0, err
		}
		select {
		case <-h.done:
		case <-time.After(2 * time.Minute):
			return 0, 0, 0, fmt.Errorf("not all handled")
		}
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if l, pend, err := p.Backlog(ctx); err == nil && l == 0 && pend == 0 {
				break
			}
		}
		if journal { // the journal writes behind: wait until memory stops growing
			prev := used()
			for range 50 {
				cur := used()
				if cur == prev {
					break
				}
				prev = cur
			}
		}
		handled = used()
		return base, queued, handled, nil
	}
	b1, q1, h1, err := pass(false, 3_000_000_000)
	if err != nil {
		return RedisBytes{}, err
	}
	if err := c.FlushAll(ctx).Err(); err != nil {
		return RedisBytes{}, err
	}
	b2, _, h2, err := pass(true, 3_100_000_000)
	if err != nil {
		return RedisBytes{}, err
	}
	fn := float64(n)
	r := RedisBytes{Pending: (q1 - b1) / fn, Remembered: (h1 - b1) / fn}
	r.Journal = (h2-b2)/fn - r.Remembered
	return r, nil
}
