package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"
)

// FailoverResults is the failover section.
type FailoverResults struct {
	LeaseTTL   string    `json:"lease_ttl"`
	Trials     int       `json:"trials"`
	Kill       []float64 `json:"kill_ms"` // per trial
	Term       []float64 `json:"term_ms"`
	KillMedian float64   `json:"kill_median_ms"`
	KillMax    float64   `json:"kill_max_ms"`
	TermMedian float64   `json:"term_median_ms"`
	TermMax    float64   `json:"term_max_ms"`
	TermExits  []int     `json:"term_exit_codes"`
}

// benchFailover: two instances, one ACTIVE; the ACTIVE one is killed (kill
// -9) or terminated (SIGTERM), and the time to a new ACTIVE is the
// successor's LEASE_ACQUIRED ts minus the moment the signal was sent (same
// clock, to the ts's resolution). A kill comes at a random point
// of the holder's renewal cycle. A fresh PASSIVE instance (new INSTANCE_ID)
// replaces the stopped one before the next trial. No load.
func benchFailover(ctx context.Context, e *Env) (*FailoverResults, error) {
	trials := 20
	if e.Quick {
		trials = 3
	}
	const ttl = 2 * time.Second
	res := &FailoverResults{LeaseTTL: ttl.String(), Trials: trials}
	if err := e.Redis.Reset(ctx); err != nil {
		return nil, err
	}
	ienv := instanceEnv(e, "bf", map[string]string{"LEASE_TTL": ttl.String(), "SHUTDOWN_TIMEOUT": "5s"})
	recordCommand("dispatcher serve   # failover: two at a time, env " + envString(ienv) + " LISTEN_ADDR=127.0.0.1:PORT INSTANCE_ID=bench-fo-N")
	seq := 0
	var live []*Instance
	defer func() {
		for _, in := range live {
			in.Stop()
		}
	}()
	start := func() error {
		in, err := startInstance(e.Bin, e.Work, fmt.Sprintf("bench-fo-%d", seq), ienv)
		seq++
		if err != nil {
			return err
		}
		live = append(live, in)
		return in.WaitRole("", 30*time.Second)
	}
	for range 2 {
		if err := start(); err != nil {
			return nil, err
		}
	}
	for _, mode := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		for i := range trials {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			active, passive, err := roles(live, 5*ttl)
			if err != nil {
				return res, err
			}
			if mode == syscall.SIGKILL {
				// the holder renews every TTL/3: kill at a random point of a
				// renewal cycle, not right after the acquisition (which
				// would always leave the whole TTL to wait out)
				time.Sleep(ttl/3 + rand.N(ttl/3))
			}
			off := passive.LogSize()
			t0 := time.Now()
			if err := active.Signal(mode); err != nil {
				return res, err
			}
			line, err := passive.WaitLog(ctx, off, 5*ttl, `"name":"LEASE_ACQUIRED"`)
			if err != nil {
				return res, err
			}
			ts, _, err := tsOf(line)
			if err != nil {
				return res, err
			}
			d := ms(ts.Sub(t0))
			code, ok := active.Wait(10 * time.Second)
			if !ok {
				return res, fmt.Errorf("%s did not exit after %v", active.ID, mode)
			}
			if mode == syscall.SIGKILL {
				res.Kill = append(res.Kill, d)
			} else {
				res.Term = append(res.Term, d)
				res.TermExits = append(res.TermExits, code)
			}
			logf("failover %-7v trial %2d: new ACTIVE after %4.0f ms (exit %d)", mode, i+1, d, code)
			live = remove(live, active)
			if err := start(); err != nil {
				return res, err
			}
		}
	}
	res.KillMedian = median(res.Kill)
	_, res.KillMax = minMax(res.Kill)
	res.TermMedian = median(res.Term)
	_, res.TermMax = minMax(res.Term)
	return res, nil
}

// roles waits until exactly one of ins is ACTIVE and another is a ready
// PASSIVE.
func roles(ins []*Instance, timeout time.Duration) (active, passive *Instance, err error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		active, passive = nil, nil
		n := 0
		for _, in := range ins {
			switch r, _ := in.Ready(); r {
			case "ACTIVE":
				active = in
				n++
			case "PASSIVE":
				passive = in
			}
		}
		if n == 1 && passive != nil {
			return active, passive, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, nil, fmt.Errorf("no ACTIVE + PASSIVE pair within %s", timeout)
}

func remove(ins []*Instance, x *Instance) []*Instance {
	out := ins[:0]
	for _, in := range ins {
		if in != x {
			out = append(out, in)
		}
	}
	return out
}
