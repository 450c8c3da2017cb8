package chaos

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var reportPath = flag.String("report", "", "run the chaos scenarios and write the reliability report (Markdown) to this file")

// enabled reports whether the scenarios run: `make chaos` passes -report;
// DISPATCHER_CHAOS=1 runs them without writing a report.
func enabled() bool { return *reportPath != "" || os.Getenv("DISPATCHER_CHAOS") == "1" }

var results struct {
	mu   sync.Mutex
	list []Result
}

func record(r Result) {
	results.mu.Lock()
	results.list = append(results.list, r)
	results.mu.Unlock()
}

func TestMain(m *testing.M) {
	flag.Parse()
	began := time.Now()
	code := m.Run()
	if *reportPath != "" {
		if err := writeReport(*reportPath, time.Since(began)); err != nil {
			fmt.Fprintln(os.Stderr, "chaos: write report:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func writeReport(path string, elapsed time.Duration) error {
	results.mu.Lock()
	list := append([]Result(nil), results.list...)
	results.mu.Unlock()
	order := map[string]int{}
	for i, sc := range scenarios() {
		order[sc.name] = i
	}
	sort.SliceStable(list, func(i, j int) bool { return order[list[i].Name] < order[list[j].Name] })
	rep := Report{Generated: time.Now(), Commit: commit(), Results: list, Elapsed: elapsed,
		Env: []string{
			fmt.Sprintf("Machine: %s/%s, %d CPUs; %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()),
			"Redis: " + redisVersion(),
		},
		Settings: settings()}
	return os.WriteFile(path, Render(rep), 0o644)
}

func settings() string {
	var kv []string
	for k, v := range baseEnv {
		if k != "LOG_FORMAT" {
			kv = append(kv, "`"+k+"="+v+"`")
		}
	}
	sort.Strings(kv)
	return strings.Join(kv, ", ") + ", `SHARDS=1`, other settings at their defaults"
}

func commit() string {
	out, err := exec.Command("git", "-C", "..", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func redisVersion() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(out))
	if len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return strings.TrimSpace(string(out))
}
