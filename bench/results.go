package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Results is everything one bench run measured; benchmarks.json holds it
// and the report is rendered from it.
type Results struct {
	When       string            `json:"when"`
	Machine    map[string]string `json:"machine"`
	Versions   map[string]string `json:"versions"`
	Args       []string          `json:"args"`
	Runs       int               `json:"runs"`
	Quick      bool              `json:"quick"`
	LoadBefore string            `json:"load_before"`
	LoadAfter  string            `json:"load_after"`
	Commands   []string          `json:"commands"`
	// Partial lists the sections a run with -only measured; the others
	// come from the full run of FullWhen (commit FullCommit).
	Partial    []string `json:"partial,omitempty"`
	FullWhen   string   `json:"full_when,omitempty"`
	FullCommit string   `json:"full_commit,omitempty"`
	// Measured says, per section, when and at which commit its figures
	// were measured (sections merged from earlier runs keep theirs).
	Measured map[string]Measured `json:"measured,omitempty"`

	Ingest   *IngestResults   `json:"ingest,omitempty"`
	E2E      *E2EResults      `json:"e2e,omitempty"`
	Peer     *PeerResults     `json:"peer,omitempty"`
	Failover *FailoverResults `json:"failover,omitempty"`
	Poll     *PollResults     `json:"poll,omitempty"`
	Forward  *ForwardResults  `json:"forward,omitempty"`
	Memory   *MemoryResults   `json:"memory,omitempty"`
	Journal  *JournalResults  `json:"journal,omitempty"`
	Profiles []Profile        `json:"profiles,omitempty"`
	// Attribution: the journal's cost (part of the profile section)
	Attribution []Attribution `json:"attribution,omitempty"`

	Durations []SectionTime `json:"durations"`
	Failures  []string      `json:"failures,omitempty"`
}

// Measured is when and at which commit a section's figures were taken.
type Measured struct {
	When   string `json:"when"`
	Commit string `json:"commit"`
}

// SectionTime is how long a section took.
type SectionTime struct {
	Section string  `json:"section"`
	Seconds float64 `json:"seconds"`
}

var (
	cmdMu    sync.Mutex
	commands []string
)

// recordCommand notes a command line the bench ran, once.
func recordCommand(s string) {
	cmdMu.Lock()
	defer cmdMu.Unlock()
	for _, c := range commands {
		if c == s {
			return
		}
	}
	commands = append(commands, s)
}

func (r *Results) describe(ctx context.Context, e *Env, fs *flag.FlagSet) {
	r.When = time.Now().UTC().Format(time.RFC3339)
	r.Runs, r.Quick = e.Runs, e.Quick
	r.Args = append([]string{"bench"}, fs.Args()...)
	fs.Visit(func(f *flag.Flag) { r.Args = append(r.Args, "-"+f.Name+"="+f.Value.String()) })
	r.LoadBefore = loadAverage()
	r.Machine = map[string]string{
		"cpu":     cpuModel(),
		"cores":   itoa(runtime.NumCPU()),
		"memory":  memTotal(),
		"kernel":  firstLine(output("uname", "-sr")),
		"os":      osName(),
		"go_arch": runtime.GOOS + "/" + runtime.GOARCH,
	}
	r.Versions = map[string]string{
		"go":              runtime.Version(),
		"redis-server":    e.Redis.Version(ctx),
		"redis-benchmark": strings.TrimSpace(strings.TrimPrefix(firstLine(output("redis-benchmark", "--version")), "redis-benchmark ")),
		"dispatcher":      firstLine(output(e.Bin, "version")),
		"commit":          firstLine(outputIn(e.Repo, "git", "describe", "--always", "--dirty", "--abbrev=12")),
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/hibiken/asynq", "github.com/redis/go-redis/v9", "gonum.org/v1/plot":
				r.Versions[d.Path] = d.Version
			}
		}
	}
	recordCommand("redis-server --port PORT --dir SCRATCH " + strings.Join(quoteAll(redisArgs), " "))
}

// merge fills the sections this run did not measure from an earlier
// benchmarks.json (a run with -only).
func (r *Results) merge(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var old Results
	if json.Unmarshal(b, &old) != nil {
		return
	}
	if r.Ingest == nil {
		r.Ingest = old.Ingest
	}
	if r.E2E == nil {
		r.E2E = old.E2E
	}
	if r.Peer == nil {
		r.Peer = old.Peer
	}
	if r.Failover == nil {
		r.Failover = old.Failover
	}
	if r.Poll == nil {
		r.Poll = old.Poll
	}
	if r.Forward == nil {
		r.Forward = old.Forward
	}
	if r.Memory == nil {
		r.Memory = old.Memory
	} else if len(r.Memory.RSS) == 0 && old.Memory != nil {
		r.Memory.RSS = old.Memory.RSS // measured during the end-to-end section
	}
	if r.Journal == nil {
		r.Journal = old.Journal
	}
	if r.Profiles == nil {
		r.Profiles, r.Attribution = old.Profiles, old.Attribution
	}
	// the commands of the sections not run again stay listed
	seen := map[string]bool{}
	for _, c := range r.Commands {
		seen[c] = true
	}
	for _, c := range old.Commands {
		if !seen[c] {
			r.Commands = append(r.Commands, c)
		}
	}
	r.FullWhen, r.FullCommit = old.When, old.Versions["commit"]
	if len(old.Partial) > 0 {
		r.FullWhen, r.FullCommit = old.FullWhen, old.FullCommit
	}
	for _, sec := range sections { // what the sections not run again were measured at
		if _, ok := r.Measured[sec]; ok {
			continue
		}
		m, ok := old.Measured[sec]
		switch {
		case ok:
		case len(old.Partial) == 0 || contains(old.Partial, sec): // a file from before Measured
			m = Measured{old.When, old.Versions["commit"]}
		default:
			m = Measured{old.FullWhen, old.FullCommit}
		}
		if r.Measured == nil {
			r.Measured = map[string]Measured{}
		}
		r.Measured[sec] = m
	}
	ran := map[string]bool{}
	for _, d := range r.Durations {
		ran[d.Section] = true
	}
	for _, d := range old.Durations { // the sections of the full run not run again
		if !ran[d.Section] {
			r.Durations = append(r.Durations, d)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "?"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := parseInt(f[0])
				return itoa(int(kb/1024/1024+1)) + " GiB"
			}
		}
	}
	return "?"
}

func osName() string {
	b, _ := os.ReadFile("/etc/os-release")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "?"
}

func output(name string, args ...string) string { return outputIn("", name, args...) }

func outputIn(dir, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	b, err := cmd.CombinedOutput()
	if err != nil && len(b) == 0 {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " *'\"") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}
