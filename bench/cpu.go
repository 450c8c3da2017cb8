package main

import (
	"context"
	"os"
	"strconv"
	"strings"
)

// cpuSeconds is the user+system CPU time of a process so far.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// fields after the command (which may hold spaces) start after ')'
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// CPUMeter measures the CPU time processes spend between Start and Stop.
type CPUMeter struct {
	pids  map[string]int
	start map[string]float64
}

func newCPUMeter(pids map[string]int) *CPUMeter {
	m := &CPUMeter{pids: pids, start: map[string]float64{}}
	for k, p := range pids {
		m.start[k] = cpuSeconds(p)
	}
	return m
}

// Stop returns the CPU seconds each process used since newCPUMeter.
func (m *CPUMeter) Stop() map[string]float64 {
	out := map[string]float64{}
	for k, p := range m.pids {
		out[k] = cpuSeconds(p) - m.start[k]
	}
	return out
}

// Pid is the redis-server's process id (INFO server process_id).
func (r *RedisServer) Pid(ctx context.Context) int {
	n, _ := strconv.Atoi(r.Info(ctx, "server", "process_id"))
	return n
}
