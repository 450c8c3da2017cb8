package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
)

// QueueRun is one run of the queue benchmark (no HTTP on either side).
type QueueRun struct {
	System     string  `json:"system"`
	N          int     `json:"n"`
	Seconds    float64 `json:"seconds"`     // first enqueue to the N-th handler call
	Throughput float64 `json:"throughput"`  // N / Seconds
	EnqueueSec float64 `json:"enqueue_sec"` // first to last enqueue returned
	Errors     int     `json:"errors"`
	RedisCPU   float64 `json:"redis_cpu_us"`   // redis-server CPU µs per update (set by the orchestrator)
	ProcCPU    float64 `json:"process_cpu_us"` // this process's CPU µs per update, start-up included (set by the orchestrator)
	// Redis commands per update (set by the orchestrator): script calls,
	// and every command (the scripts' own included)
	Scripts  float64 `json:"redis_scripts,omitempty"`
	Commands float64 `json:"redis_commands,omitempty"`
}

// runQueue is the subcommand: enqueue n updates with `producers` goroutines
// and process them with `workers` concurrent no-op handlers, on the given
// Redis (flushed by the caller), and print one QueueRun as JSON.
//
// Both systems follow the same protocol: the producers start, and the
// consumer is started as soon as 100 enqueues have returned (so that
// asynq's processor, which polls and sleeps about a second when it finds
// its queue empty, does not begin with an empty queue); the clock runs
// from the producers' start to the n-th handler call.
//
// ours: each update goes through the webhook handler (ingest.Handler,
// called without HTTP) into the shard stream, and a worker.Pool under a
// lease.Manager dispatches it, with the JSON event lines written to a
// file and the event journal on, as a server runs them.
//
// asynq: asynq.Client.Enqueue of a task whose payload is the same update
// body; asynq.Server with Concurrency = workers; default options otherwise.
func runQueue(args []string) int {
	fs := flag.NewFlagSet("queue", flag.ExitOnError)
	system := fs.String("system", "ours", "ours or asynq")
	url := fs.String("redis", "", "redis URL")
	n := fs.Int("n", 20000, "updates")
	workers := fs.Int("workers", 16, "concurrent handlers (WORKERS / asynq Concurrency)")
	producers := fs.Int("producers", 16, "concurrent producers")
	fixtures := fs.String("fixtures", "", "fixtures directory")
	logFile := fs.String("log", os.DevNull, "event lines of ours")
	journal := fs.Bool("journal", true, "ours: event journal on (as served)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile")
	_ = fs.Parse(args)

	corpus, err := loadCorpus(*fixtures, noopFixtures, 5000)
	if err != nil {
		fmt.Fprintln(os.Stderr, "queue:", err)
		return 2
	}
	bodies := corpus.Bodies(2_000_000_000, *n, 7)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	var res QueueRun
	switch *system {
	case "ours":
		res, err = queueOurs(*url, bodies, *workers, *producers, *logFile, *journal)
	case "asynq":
		res, err = queueAsynq(*url, bodies, *workers, *producers)
	default:
		err = fmt.Errorf("unknown system %q", *system)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "queue:", err)
		return 1
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

// produce runs enqueue over bodies with p goroutines; it returns the errors
// and when the last enqueue returned.
func produce(bodies [][]byte, p int, enqueue func([]byte) error) (int, time.Time) {
	return produceSignal(bodies, p, enqueue, nil)
}

// produceSignal is produce that closes first (when not nil) once
// min(100, len(bodies)) enqueues have returned.
func produceSignal(bodies [][]byte, p int, enqueue func([]byte) error, first chan struct{}) (int, time.Time) {
	var next, done atomic.Int64
	var once sync.Once
	signal := func() {
		if first != nil {
			once.Do(func() { close(first) })
		}
	}
	defer signal()
	var errs atomic.Int64
	var wg sync.WaitGroup
	for range p {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				if enqueue(bodies[i]) != nil {
					errs.Add(1)
				}
				if done.Add(1) == int64(min(100, len(bodies))) {
					signal()
				}
			}
		})
	}
	wg.Wait()
	return int(errs.Load()), time.Now()
}

func queueOurs(url string, bodies [][]byte, workers, producers int, logFile string, journal bool) (QueueRun, error) {
	out, err := os.Create(logFile)
	if err != nil {
		return QueueRun{}, err
	}
	defer out.Close()
	h := newNoop(int64(len(bodies)))
	p, err := newPipeline(PipelineOptions{RedisURL: url, Namespace: "bq", Instance: "bench-ours", Workers: workers,
		Journal: journal, LogOut: out, Handler: h})
	if err != nil {
		return QueueRun{}, err
	}
	defer p.Close()

	start := time.Now()
	var prodErrs int
	var prodEnd time.Time
	prodDone, first := make(chan struct{}), make(chan struct{})
	go func() {
		prodErrs, prodEnd = produceSignal(bodies, producers, func(b []byte) error {
			if code := p.Enqueue(b); code != 200 {
				return fmt.Errorf("status %d", code)
			}
			return nil
		}, first)
		close(prodDone)
	}()
	<-first
	if err := p.StartWorkers(10 * time.Second); err != nil {
		return QueueRun{}, err
	}
	return finish("ours", len(bodies), start, h.done, prodDone, &prodErrs, &prodEnd)
}

func finish(system string, n int, start time.Time, done, prodDone <-chan struct{}, errs *int, prodEnd *time.Time) (QueueRun, error) {
	timeout := time.After(5 * time.Minute)
	select {
	case <-done:
	case <-timeout:
		return QueueRun{}, fmt.Errorf("%s: not all %d handled within 5 minutes", system, n)
	}
	end := time.Now()
	<-prodDone
	secs := end.Sub(start).Seconds()
	return QueueRun{System: system, N: n, Seconds: secs, Throughput: float64(n) / secs,
		EnqueueSec: prodEnd.Sub(start).Seconds(), Errors: *errs}, nil
}

func queueAsynq(url string, bodies [][]byte, workers, producers int) (QueueRun, error) {
	opt, err := asynq.ParseRedisURI(url)
	if err != nil {
		return QueueRun{}, err
	}
	client := asynq.NewClient(opt)
	defer client.Close()
	var count atomic.Int64
	done := make(chan struct{})
	n := int64(len(bodies))
	mux := asynq.NewServeMux()
	mux.HandleFunc("update", func(ctx context.Context, t *asynq.Task) error {
		if count.Add(1) == n {
			close(done)
		}
		return nil
	})
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: workers, LogLevel: asynq.WarnLevel})

	start := time.Now()
	var prodErrs int
	var prodEnd time.Time
	prodDone, first := make(chan struct{}), make(chan struct{})
	go func() {
		ctx := context.Background()
		prodErrs, prodEnd = produceSignal(bodies, producers, func(b []byte) error {
			_, err := client.EnqueueContext(ctx, asynq.NewTask("update", b))
			return err
		}, first)
		close(prodDone)
	}()
	<-first
	if err := srv.Start(mux); err != nil {
		return QueueRun{}, err
	}
	defer srv.Shutdown()
	return finish("asynq", len(bodies), start, done, prodDone, &prodErrs, &prodEnd)
}
