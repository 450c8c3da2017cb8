// Package proctest runs real `dispatcher` processes for multi-instance
// tests: it builds the binary once per test binary, starts instances with
// their own environment, collects their JSON log lines, and sends them
// signals (SIGTERM, SIGKILL, SIGSTOP, SIGCONT) the way an orchestrator would.
package proctest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/dispatcher once and returns its path. The processes
// are built without -race: they test distributed behaviour under load on a
// small machine, and the in-process tests already run under -race.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dispatcher-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "dispatcher")
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/dispatcher")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build dispatcher: %v", buildErr)
	}
	return binPath
}

var (
	buildsMu sync.Mutex
	builds   = map[string]string{} // package → binary
)

// BuildPackage builds the main package pkg of this module ("./examples/
// counter") once per test binary and returns the binary's path: a bot of
// the public API, run by a Cluster whose Bin is that path.
func BuildPackage(t testing.TB, pkg string) string {
	t.Helper()
	buildsMu.Lock()
	defer buildsMu.Unlock()
	if bin, ok := builds[pkg]; ok {
		return bin
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "dispatcher-bin-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	builds[pkg] = bin
	return bin
}

func moduleRoot() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above %s", file)
		}
		dir = parent
	}
}

// Line is one decoded JSON log line of an instance.
type Line map[string]any

// Str returns a string field.
func (l Line) Str(k string) string { s, _ := l[k].(string); return s }

// Int returns a numeric field.
func (l Line) Int(k string) int64 {
	switch v := l[k].(type) {
	case float64:
		return int64(v)
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	return 0
}

// Name returns the event name.
func (l Line) Name() string { return l.Str("name") }

// Instance is one running dispatcher process.
type Instance struct {
	t  testing.TB
	ID string
	// Addr is the host:port the instance listens on, as it reported it
	// (LISTEN_ADDR defaults to port 0); "" when it exited before.
	Addr string
	Env  map[string]string
	cmd  *exec.Cmd
	bin  string
	args []string
	done chan struct{}
	exit int

	mu      sync.Mutex
	lines   []Line
	raw     bytes.Buffer // non-JSON output (stderr, panics, LOG_FORMAT=kv)
	addrKV  string       // the bound address of a kv SERVICE_STARTING line
	changed chan struct{}
}

// Cluster is a set of instances sharing one Redis and one fake Bot API.
type Cluster struct {
	t       testing.TB
	BaseEnv map[string]string
	// Bin and Args are the program an instance runs: by default the
	// dispatcher binary with "serve"; with Bin set, Bin with Args (a bot
	// built by BuildPackage).
	Bin       string
	Args      []string
	mu        sync.Mutex
	instances []*Instance
}

// NewCluster returns an empty cluster whose instances get base env plus
// their own LISTEN_ADDR and INSTANCE_ID.
func NewCluster(t testing.TB, base map[string]string) *Cluster {
	return &Cluster{t: t, BaseEnv: base}
}

// Start starts one more instance with extra env (which wins over the base).
func (c *Cluster) Start(id string, extra map[string]string) *Instance {
	c.t.Helper()
	env := map[string]string{}
	for k, v := range c.BaseEnv {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	if env["LISTEN_ADDR"] == "" {
		// the kernel picks the port; the instance logs the one it bound
		env["LISTEN_ADDR"] = "127.0.0.1:0"
	}
	env["INSTANCE_ID"] = id
	if env["LOG_FORMAT"] == "" {
		env["LOG_FORMAT"] = "json"
	}
	in := &Instance{t: c.t, ID: id, Env: env, changed: make(chan struct{}), bin: c.Bin, args: c.Args}
	in.start()
	in.Addr = in.boundAddr(StartTimeout)
	c.mu.Lock()
	c.instances = append(c.instances, in)
	c.mu.Unlock()
	return in
}

// CLI runs a dispatcher command (status, trace, dlq...) with the cluster's
// base environment and returns its stdout, stderr and exit code.
func (c *Cluster) CLI(args ...string) (string, string, int) {
	c.t.Helper()
	return c.CLIEnv(nil, args...)
}

// CLIEnv is CLI with extra environment (which wins over the base; an empty
// value unsets a variable).
func (c *Cluster) CLIEnv(extra map[string]string, args ...string) (string, string, int) {
	c.t.Helper()
	cmd := exec.Command(Binary(c.t), args...)
	cmd.Env = os.Environ()
	for k, v := range c.BaseEnv {
		if _, over := extra[k]; !over {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	for k, v := range extra {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("run %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// Instances returns the instances started so far.
func (c *Cluster) Instances() []*Instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Instance(nil), c.instances...)
}

// Lines returns every log line of every instance.
func (c *Cluster) Lines() []Line {
	var out []Line
	for _, in := range c.Instances() {
		out = append(out, in.Lines()...)
	}
	return out
}

func (in *Instance) start() {
	in.t.Helper()
	bin, args := in.bin, in.args
	if bin == "" {
		bin, args = Binary(in.t), []string{"serve"}
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	for k, v := range in.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		in.t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		in.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		in.t.Fatalf("start %s: %v", in.ID, err)
	}
	in.cmd = cmd
	in.done = make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); in.read(stdout) }()
	go func() { defer wg.Done(); in.read(stderr) }()
	go func() {
		wg.Wait()
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = -int(ws.Signal())
			}
		}
		in.mu.Lock()
		in.exit = code
		in.mu.Unlock()
		close(in.done)
		in.notify()
	}()
	in.t.Cleanup(func() {
		select {
		case <-in.done:
		default:
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = cmd.Process.Kill()
			<-in.done
		}
		if in.t.Failed() {
			in.dump()
		}
	})
}

// StartTimeout bounds how long Start waits for an instance to report the
// address it listens on.
const StartTimeout = 30 * time.Second

// boundAddr waits for the line that reports the address the instance
// bound (SERVICE_STARTING with addr, JSON or kv) and returns it; "" when
// the process exited first (a refused configuration, which the test
// looks at).
func (in *Instance) boundAddr(timeout time.Duration) string {
	in.t.Helper()
	addr := ""
	found := func() bool {
		in.mu.Lock()
		defer in.mu.Unlock()
		for _, l := range in.lines {
			if l.Name() == "SERVICE_STARTING" && l.Str("addr") != "" {
				addr = localhost(l.Str("addr"))
				return true
			}
		}
		addr = in.addrKV
		return addr != ""
	}
	if ok, exited := in.waitFor(timeout, true, found); !ok && !exited {
		in.t.Fatalf("%s did not report its address within %s: %s", in.ID, timeout, in.Output())
	}
	return addr
}

var kvAddr = regexp.MustCompile(`(?:^| )addr=(\S+)`)

// AddrOf returns the address an instance reports it bound, when line (one
// log line, JSON or kv) is its SERVICE_STARTING line with addr.
func AddrOf(line string) (string, bool) {
	if strings.HasPrefix(line, "{") {
		var l Line
		if json.Unmarshal([]byte(line), &l) != nil || l.Name() != "SERVICE_STARTING" || l.Str("addr") == "" {
			return "", false
		}
		return localhost(l.Str("addr")), true
	}
	if !strings.Contains(line, "name=SERVICE_STARTING ") {
		return "", false
	}
	m := kvAddr.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return localhost(strings.Trim(m[1], `"`)), true
}

// WaitAddr polls output (a process's log so far) until it holds the line
// that reports the address the process bound (AddrOf), at most timeout.
func WaitAddr(timeout time.Duration, output func() string) (string, bool) {
	addr := ""
	ok := Eventually(timeout, 20*time.Millisecond, func() bool {
		for _, l := range strings.Split(output(), "\n") {
			if a, found := AddrOf(l); found {
				addr = a
				return true
			}
		}
		return false
	})
	return addr, ok
}

// localhost turns an address on every interface (":8080", "[::]:8080")
// into one this machine can dial.
func localhost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func (in *Instance) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		b := sc.Bytes()
		var l Line
		in.mu.Lock()
		if len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &l) == nil {
			in.lines = append(in.lines, l)
		} else {
			in.raw.Write(b)
			in.raw.WriteByte('\n')
			if a, ok := AddrOf(string(b)); ok && in.addrKV == "" {
				in.addrKV = a
			}
		}
		in.mu.Unlock()
		in.notify()
	}
}

func (in *Instance) notify() {
	in.mu.Lock()
	close(in.changed)
	in.changed = make(chan struct{})
	in.mu.Unlock()
}

func (in *Instance) dump() {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := len(in.lines)
	from := 0
	if n > 60 {
		from = n - 60
	}
	in.t.Logf("---- %s: last %d of %d log lines, then other output", in.ID, n-from, n)
	for _, l := range in.lines[from:] {
		b, _ := json.Marshal(l)
		in.t.Logf("%s %s", in.ID, b)
	}
	if in.raw.Len() > 0 {
		in.t.Logf("%s other output:\n%s", in.ID, in.raw.String())
	}
}

// Lines returns a copy of the instance's JSON log lines.
func (in *Instance) Lines() []Line {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Line(nil), in.lines...)
}

// Output returns what the instance wrote that was not a JSON line.
func (in *Instance) Output() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.raw.String()
}

// WaitLine waits until a line matching f was logged, and returns it.
func (in *Instance) WaitLine(timeout time.Duration, f func(Line) bool) (Line, bool) {
	var found Line
	ok, _ := in.waitFor(timeout, false, func() bool {
		in.mu.Lock()
		defer in.mu.Unlock()
		for _, l := range in.lines {
			if f(l) {
				found = l
				return true
			}
		}
		return false
	})
	return found, ok
}

// waitFor waits until cond holds (checked at every line the instance
// writes), timeout passes, or, with untilExit, the process exits (exited
// then reports it).
func (in *Instance) waitFor(timeout time.Duration, untilExit bool, cond func() bool) (ok, exited bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var done <-chan struct{}
	if untilExit {
		done = in.done
	}
	for {
		in.mu.Lock()
		ch := in.changed
		in.mu.Unlock()
		if cond() {
			return true, false
		}
		select {
		case <-ch:
		case <-done:
			return cond(), !cond()
		case <-deadline.C:
			return false, false
		}
	}
}

// Signal sends sig to the process.
func (in *Instance) Signal(sig syscall.Signal) {
	_ = in.cmd.Process.Signal(sig)
}

// Pid returns the process id.
func (in *Instance) Pid() int { return in.cmd.Process.Pid }

// Wait waits for the process to exit and returns its exit code (a negative
// signal number when a signal ended it), or false on timeout.
func (in *Instance) Wait(timeout time.Duration) (int, bool) {
	if in.Exited() { // first, so that a zero timeout cannot win the race with a closed done
		in.mu.Lock()
		defer in.mu.Unlock()
		return in.exit, true
	}
	select {
	case <-in.done:
		in.mu.Lock()
		defer in.mu.Unlock()
		return in.exit, true
	case <-time.After(timeout):
		return 0, false
	}
}

// Exited reports whether the process has exited.
func (in *Instance) Exited() bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

// URL returns http://LISTEN_ADDR + path.
func (in *Instance) URL(path string) string { return "http://" + in.Addr + path }

// Readiness is the decoded /readyz answer.
type Readiness struct {
	Status   int
	Instance string `json:"instance"`
	Role     string `json:"role"`
	Shards   map[string]struct {
		Role  string `json:"role"`
		Token int64  `json:"token"`
	} `json:"shards"`
	// Poll is the poll lease on the instance (INGEST=poll only).
	Poll *struct {
		Role  string `json:"role"`
		Token int64  `json:"token"`
	} `json:"poll"`
}

var client = &http.Client{Timeout: 2 * time.Second}

// Ready fetches /readyz; ok is false when the instance did not answer.
func (in *Instance) Ready() (Readiness, bool) {
	var r Readiness
	resp, err := client.Get(in.URL("/readyz"))
	if err != nil {
		return r, false
	}
	defer resp.Body.Close()
	r.Status = resp.StatusCode
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, false
	}
	return r, true
}

// Eventually polls cond every interval until it holds or timeout passes.
// It is the one polling helper of the multi-process tests: processes are
// observed through HTTP and logs, which have no change notification.
func Eventually(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

// WaitReady waits until the instance answers /readyz with 200.
func (in *Instance) WaitReady(timeout time.Duration) Readiness {
	in.t.Helper()
	var r Readiness
	if !Eventually(timeout, 25*time.Millisecond, func() bool {
		var ok bool
		r, ok = in.Ready()
		return (ok && r.Status == http.StatusOK) || in.Exited()
	}) || in.Exited() {
		code, _ := in.Wait(0)
		in.t.Fatalf("%s not ready within %s (last: %+v, exited: %v code %d): %s", in.ID, timeout, r, in.Exited(), code, in.Output())
	}
	return r
}

// Post posts body to the instance's webhook path with the secret header.
func (in *Instance) Post(ctx context.Context, path string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URL(path), bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if s := in.Env["WEBHOOK_SECRET"]; s != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", s)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}
