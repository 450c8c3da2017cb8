package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// PeerSystem is one system's runs and medians.
type PeerSystem struct {
	Name       string     `json:"name"`
	Runs       []QueueRun `json:"runs"`
	Throughput float64    `json:"throughput"`
	TputMin    float64    `json:"throughput_min"`
	TputMax    float64    `json:"throughput_max"`
	Enqueue    float64    `json:"enqueue_rate"`   // median updates a second enqueued
	RedisCPU   float64    `json:"redis_cpu_us"`   // median redis-server CPU µs per update
	ProcCPU    float64    `json:"process_cpu_us"` // median CPU µs per update of the benchmark process (producers, consumer, everything)
	Scripts    float64    `json:"redis_scripts"`  // median Redis script calls per update
	Commands   float64    `json:"redis_commands"` // median Redis commands per update, the scripts' own included
}

// PeerResults is the peer section: ours against asynq, no HTTP.
type PeerResults struct {
	N         int          `json:"n"`
	Workers   int          `json:"workers"`
	Producers int          `json:"producers"`
	Systems   []PeerSystem `json:"systems"`
	Ratio     float64      `json:"ratio"` // ours / asynq throughput (medians)
	// RunRatios are ours/asynq of each pair of runs made back to back.
	RunRatios []float64 `json:"run_ratios"`
}

func benchPeer(ctx context.Context, e *Env) (*PeerResults, error) {
	n := 20000
	if e.Quick {
		n = 3000
	}
	res := &PeerResults{N: n, Workers: 16, Producers: 16}
	systems := []string{"ours", "asynq"}
	for _, s := range systems {
		res.Systems = append(res.Systems, PeerSystem{Name: s})
	}
	recordCommand(fmt.Sprintf("bench queue -system ours|asynq -redis redis://127.0.0.1:PORT -n %d -workers 16 -producers 16 -fixtures internal/queue/testdata/updates   # alternated, Redis emptied before each", n))
	redisPid := e.Redis.Pid(ctx)
	// one small warm-up run of each, not counted
	for _, s := range systems {
		if _, _, err := queueRun(ctx, e, s, n/5, redisPid); err != nil {
			return nil, err
		}
	}
	for i := range e.Runs {
		var pair [2]float64
		for j, s := range systems {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r, rcpu, err := queueRun(ctx, e, s, n, redisPid)
			if err != nil {
				return nil, err
			}
			ps := &res.Systems[j]
			ps.Runs = append(ps.Runs, r)
			r.RedisCPU = rcpu
			ps.Runs[len(ps.Runs)-1] = r
			pair[j] = r.Throughput
			logf("peer %-5s run %d: %7.0f/s (enqueue %.2fs, all handled %.2fs, errors %d, CPU µs/update: process %.0f, redis %.0f)",
				s, i+1, r.Throughput, r.EnqueueSec, r.Seconds, r.Errors, r.ProcCPU, rcpu)
		}
		if pair[1] > 0 {
			res.RunRatios = append(res.RunRatios, pair[0]/pair[1])
		}
	}
	for j := range res.Systems {
		ps := &res.Systems[j]
		ps.Throughput = median(pick(ps.Runs, func(r QueueRun) float64 { return r.Throughput }))
		ps.TputMin, ps.TputMax = minMax(pick(ps.Runs, func(r QueueRun) float64 { return r.Throughput }))
		ps.Enqueue = median(pick(ps.Runs, func(r QueueRun) float64 { return float64(r.N) / r.EnqueueSec }))
		ps.RedisCPU = median(pick(ps.Runs, func(r QueueRun) float64 { return r.RedisCPU }))
		ps.ProcCPU = median(pick(ps.Runs, func(r QueueRun) float64 { return r.ProcCPU }))
		ps.Scripts = median(pick(ps.Runs, func(r QueueRun) float64 { return r.Scripts }))
		ps.Commands = median(pick(ps.Runs, func(r QueueRun) float64 { return r.Commands }))
	}
	if res.Systems[1].Throughput > 0 {
		res.Ratio = res.Systems[0].Throughput / res.Systems[1].Throughput
	}
	return res, nil
}

// queueRun empties Redis and runs the queue subcommand once; it also
// returns the redis-server's CPU µs per update during the run.
func queueRun(ctx context.Context, e *Env, system string, n, redisPid int, extra ...string) (QueueRun, float64, error) {
	if err := e.Redis.Reset(ctx); err != nil {
		return QueueRun{}, 0, err
	}
	args := append([]string{"queue", "-system", system, "-redis", e.Redis.URL(), "-n", strconv.Itoa(n),
		"-workers", "16", "-producers", "16", "-fixtures", e.Fixtures,
		"-log", filepath.Join(e.Work, "queue-"+system+".log")}, extra...)
	_ = e.Redis.ResetStats(ctx)
	meter := newCPUMeter(map[string]int{"redis": redisPid})
	cmd := exec.CommandContext(ctx, e.Self, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	cpu := meter.Stop()
	scripts, all := e.Redis.Commands(ctx)
	if err != nil {
		return QueueRun{}, 0, fmt.Errorf("queue %s: %w: %s", system, err, stderr.String())
	}
	var r QueueRun
	if err := json.Unmarshal(out, &r); err != nil {
		return QueueRun{}, 0, fmt.Errorf("queue %s: %w: %q", system, err, out)
	}
	if st := cmd.ProcessState; st != nil {
		r.ProcCPU = (st.UserTime() + st.SystemTime()).Seconds() * 1e6 / float64(n)
	}
	r.Scripts, r.Commands = float64(scripts)/float64(n), float64(all)/float64(n)
	return r, cpu["redis"] * 1e6 / float64(n), nil
}
