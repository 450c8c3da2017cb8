package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Instance is one `dispatcher serve` process. Its stdout (the JSON event
// lines) goes straight to a file, so reading the logs costs the measured
// process nothing beyond its own writes.
type Instance struct {
	ID      string
	Addr    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	exit    int
}

// startInstance runs bin serve with env (plus LISTEN_ADDR and INSTANCE_ID).
func startInstance(bin, dir, id string, env map[string]string) (*Instance, error) {
	return startProcess(bin, []string{"serve"}, dir, id, env)
}

// startProcess runs bin with args and env (plus LISTEN_ADDR and
// INSTANCE_ID), its stdout and stderr to the instance's log file.
func startProcess(bin string, args []string, dir, id string, env map[string]string) (*Instance, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	in := &Instance{ID: id, Addr: "127.0.0.1:" + strconv.Itoa(port), LogPath: filepath.Join(dir, id+".log"),
		done: make(chan struct{})}
	out, err := os.Create(in.LogPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LISTEN_ADDR="+in.Addr, "INSTANCE_ID="+id, "LOG_FORMAT=json")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", id, err)
	}
	in.cmd = cmd
	go func() {
		err := cmd.Wait()
		out.Close()
		in.exit = 0
		if ee, ok := err.(*exec.ExitError); ok {
			in.exit = ee.ExitCode()
		}
		close(in.done)
	}()
	return in, nil
}

// Pid of the process.
func (in *Instance) Pid() int { return in.cmd.Process.Pid }

// URL of a path on the instance.
func (in *Instance) URL(path string) string { return "http://" + in.Addr + path }

// Signal sends sig.
func (in *Instance) Signal(sig syscall.Signal) error { return in.cmd.Process.Signal(sig) }

// Wait waits for the exit; false on timeout.
func (in *Instance) Wait(timeout time.Duration) (int, bool) {
	select {
	case <-in.done:
		return in.exit, true
	case <-time.After(timeout):
		return 0, false
	}
}

// Stop sends SIGTERM and waits, then SIGKILL.
func (in *Instance) Stop() {
	select {
	case <-in.done:
		return
	default:
	}
	_ = in.Signal(syscall.SIGTERM)
	if _, ok := in.Wait(15 * time.Second); !ok {
		_ = in.Signal(syscall.SIGKILL)
		<-in.done
	}
}

// readyz is the part of GET /readyz the bench reads.
type readyz struct {
	Instance string `json:"instance"`
	Role     string `json:"role"`
}

// Ready returns the role when /readyz answers 200.
func (in *Instance) Ready() (string, bool) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(in.URL("/readyz"))
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var r readyz
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&r) != nil {
		return "", false
	}
	return r.Role, true
}

// WaitRole waits until /readyz answers 200 with role ("" = any role).
func (in *Instance) WaitRole(role string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-in.done:
			return fmt.Errorf("%s exited with %d; log %s", in.ID, in.exit, in.LogPath)
		default:
		}
		if r, ok := in.Ready(); ok && (role == "" || r == role) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready as %q within %s; log %s", in.ID, role, timeout, in.LogPath)
}

// LogSize is the log file's size: an offset to read new lines from.
func (in *Instance) LogSize() int64 {
	st, err := os.Stat(in.LogPath)
	if err != nil {
		return 0
	}
	return st.Size()
}

// ScanLog calls f for each complete line from offset on; it returns the
// offset after the last complete line.
func (in *Instance) ScanLog(from int64, f func(line []byte)) int64 {
	fh, err := os.Open(in.LogPath)
	if err != nil {
		return from
	}
	defer fh.Close()
	if _, err := fh.Seek(from, io.SeekStart); err != nil {
		return from
	}
	r := bufio.NewReaderSize(fh, 1<<20)
	off := from
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return off // a partial last line is read again next time
		}
		off += int64(len(line))
		f(line)
	}
}

// WaitLog polls the log from offset for a line with all of needles; it
// returns the line.
func (in *Instance) WaitLog(ctx context.Context, from int64, timeout time.Duration, needles ...string) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	off := from
	for {
		var found []byte
		off = in.ScanLog(off, func(line []byte) {
			if found == nil && hasAll(line, needles) {
				found = bytes.Clone(line)
			}
		})
		if found != nil {
			return found, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("%s: no line with %v within %s", in.ID, needles, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func hasAll(line []byte, needles []string) bool {
	for _, n := range needles {
		if !bytes.Contains(line, []byte(n)) {
			return false
		}
	}
	return true
}

// RSS is the resident set size in bytes (VmRSS), 0 if unknown.
func (in *Instance) RSS() int64 { return rssOf(in.Pid()) }

func rssOf(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

// logLine is the part of an event line the bench reads.
type logLine struct {
	TS       string `json:"ts"`
	Name     string `json:"name"`
	UpdateID int64  `json:"update_id"`
	Instance string `json:"instance"`
	Shard    *int   `json:"shard"`
	Token    int64  `json:"token"`
}

// tsOf parses an event line's ts.
func tsOf(line []byte) (time.Time, logLine, error) {
	var l logLine
	if err := json.Unmarshal(line, &l); err != nil {
		return time.Time{}, l, err
	}
	t, err := time.Parse(time.RFC3339Nano, l.TS)
	return t, l, err
}
