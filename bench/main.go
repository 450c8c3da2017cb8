package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "floor":
			os.Exit(runFloor(os.Args[2:]))
		case "queue":
			os.Exit(runQueue(os.Args[2:]))
		case "redismem":
			os.Exit(runRedisMem(os.Args[2:]))
		case "journalmem":
			os.Exit(runJournalMem(os.Args[2:]))
		case "groupfloor":
			os.Exit(runGroupFloor(os.Args[2:]))
		case "queuelayer":
			os.Exit(runQueueLayer(os.Args[2:]))
		case "replica":
			os.Exit(runReplica(os.Args[2:]))
		case "asynqhook":
			os.Exit(runAsynqHook(os.Args[2:]))
		}
	}
	os.Exit(run(os.Args[1:]))
}

// Env is what every section of a bench run shares.
type Env struct {
	Repo     string // repository root
	Bin      string // the dispatcher binary
	Self     string // this program, for its subcommands
	Work     string // scratch directory (logs, AOF, profiles)
	Out      string // docs directory
	Fixtures string
	Runs     int
	Quick    bool
	Redis    *RedisServer
	All      *Corpus // every fixture
	Noop     *Corpus // the fixtures the reference bot does nothing with
	nextID   int64
}

// ids reserves n fresh update_ids and returns the first.
func (e *Env) ids(n int) int64 {
	first := e.nextID
	e.nextID += int64(n) + 1000
	return first
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

var sections = []string{"ingest", "e2e", "peer", "failover", "poll", "forward", "memory", "journal", "profile"}

func run(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	repo := fs.String("repo", ".", "repository root")
	bin := fs.String("bin", "bin/dispatcher", "dispatcher binary (relative to -repo)")
	out := fs.String("out", "docs", "where BENCHMARKS.md, benchmarks.json and the plots go (relative to -repo)")
	runs := fs.Int("runs", 5, "runs of each measurement (medians are reported)")
	quick := fs.Bool("quick", false, "small counts and short runs, to try the bench out (figures not meaningful)")
	only := fs.String("only", "", "comma-separated sections ("+strings.Join(sections, ",")+"); default all")
	reportOnly := fs.Bool("report-only", false, "only re-render the report and plots from benchmarks.json")
	keep := fs.Bool("keep", false, "keep the scratch directory")
	_ = fs.Parse(args)

	root, _ := filepath.Abs(*repo)
	outDir := filepath.Join(root, *out)
	if *reportOnly {
		var res Results
		b, err := os.ReadFile(filepath.Join(outDir, "benchmarks.json"))
		if err == nil {
			err = json.Unmarshal(b, &res)
		}
		if err == nil {
			err = writeReport(&res, outDir)
		}
		if err != nil {
			logf("report: %v", err)
			return 1
		}
		return 0
	}

	want := sections
	if *only != "" {
		want = strings.Split(*only, ",")
	}
	self, err := os.Executable()
	if err != nil {
		logf("%v", err)
		return 1
	}
	work, err := os.MkdirTemp("", "dispatcher-bench-")
	if err != nil {
		logf("%v", err)
		return 1
	}
	if !*keep {
		defer os.RemoveAll(work)
	}
	env := &Env{Repo: root, Bin: filepath.Join(root, *bin), Self: self, Work: work, Out: outDir,
		Fixtures: filepath.Join(root, "internal/queue/testdata/updates"), Runs: *runs, Quick: *quick,
		nextID: 1_000_000_000}
	if env.All, err = loadCorpus(env.Fixtures, nil, 5000); err == nil {
		env.Noop, err = loadCorpus(env.Fixtures, noopFixtures, 5000)
	}
	if err != nil {
		logf("fixtures: %v", err)
		return 1
	}
	if env.Redis, err = startRedis(work); err != nil {
		logf("%v", err)
		return 1
	}
	defer env.Redis.Stop()

	// a first ^C stops the bench between steps; the deferred cleanups run
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	res := &Results{}
	res.describe(ctx, env, fs)
	logf("scratch %s; redis %s; load average %s", work, env.Redis.Addr(), res.LoadBefore)
	for _, s := range want {
		if ctx.Err() != nil {
			break
		}
		if !slices.Contains(sections, s) {
			logf("unknown section %q", s)
			return 2
		}
		start := time.Now()
		logf("== %s", s)
		var err error
		switch s {
		case "ingest":
			res.Ingest, err = benchIngest(ctx, env)
		case "e2e":
			res.E2E, err = benchE2E(ctx, env)
		case "peer":
			res.Peer, err = benchPeer(ctx, env)
		case "failover":
			res.Failover, err = benchFailover(ctx, env)
		case "poll":
			res.Poll, err = benchPoll(ctx, env)
		case "forward":
			res.Forward, err = benchForward(ctx, env)
		case "memory":
			res.Memory, err = benchMemory(ctx, env, res.E2E)
		case "journal":
			res.Journal, err = benchJournal(ctx, env)
		case "profile":
			res.Profiles, err = benchProfile(ctx, env, &res.Attribution)
		}
		res.Durations = append(res.Durations, SectionTime{s, time.Since(start).Seconds()})
		if err != nil {
			logf("%s: %v", s, err)
			res.Failures = append(res.Failures, s+": "+err.Error())
		}
	}
	res.LoadAfter = loadAverage()
	res.Commands = commands
	res.Measured = map[string]Measured{}
	for _, s := range want {
		res.Measured[s] = Measured{res.When, res.Versions["commit"]}
	}
	if *only != "" {
		res.Partial = want
		res.merge(filepath.Join(outDir, "benchmarks.json"))
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		logf("%v", err)
		return 1
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(outDir, "benchmarks.json"), append(b, '\n'), 0o644); err != nil {
		logf("%v", err)
		return 1
	}
	if err := writeReport(res, outDir); err != nil {
		logf("report: %v", err)
		return 1
	}
	logf("wrote %s", filepath.Join(outDir, "BENCHMARKS.md"))
	if len(res.Failures) > 0 {
		return 1
	}
	return 0
}
