package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SecretHeader is Telegram's webhook secret header (ingest.SecretHeader).
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// Sample is one request: when it was written (unix nanoseconds), how long
// until the answer, and its status (0: transport error).
type Sample struct {
	Sent   int64
	Lat    time.Duration
	Status int
}

// Load posts bodies to URLs (round robin) like Telegram does: one update a
// request, with the secret header. It only ever targets 127.0.0.1.
type Load struct {
	URLs   []string
	Secret string
	client *http.Client
}

func newLoad(urls []string, secret string, conns int) (*Load, error) {
	for _, u := range urls {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			return nil, fmt.Errorf("load target %q is not on 127.0.0.1", u)
		}
	}
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		DisableCompression: true, IdleConnTimeout: time.Minute}
	return &Load{URLs: urls, Secret: secret, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}, nil
}

func (l *Load) Close() { l.client.CloseIdleConnections() }

func (l *Load) post(ctx context.Context, i int, body []byte) Sample {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URLs[i%len(l.URLs)], bytes.NewReader(body))
	if err != nil {
		return Sample{}
	}
	req.Header.Set("Content-Type", "application/json")
	if l.Secret != "" {
		req.Header.Set(SecretHeader, l.Secret)
	}
	start := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		return Sample{Sent: start.UnixNano(), Lat: time.Since(start)}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return Sample{Sent: start.UnixNano(), Lat: time.Since(start), Status: resp.StatusCode}
}

// Closed sends every body once with conc requests in flight (a closed
// loop: as fast as the server answers), within timeout. It returns the
// samples (index = body index; unsent ones have Sent 0) and the wall time.
func (l *Load) Closed(bodies [][]byte, conc int, timeout time.Duration) ([]Sample, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out := make([]Sample, len(bodies))
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				out[i] = l.post(ctx, i, bodies[i])
			}
		})
	}
	wg.Wait()
	return out, time.Since(start)
}

// Open sends the bodies at a fixed rate (an open loop: body i is due at
// start + i/rate whatever the answers), with at most workers requests in
// flight; a request is written when a worker is free, and its Sent is that
// moment. It stops at timeout.
func (l *Load) Open(bodies [][]byte, rate float64, workers int, timeout time.Duration) ([]Sample, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out := make([]Sample, len(bodies))
	jobs := make(chan int, len(bodies))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				if ctx.Err() != nil {
					continue
				}
				out[i] = l.post(ctx, i, bodies[i])
			}
		})
	}
	start := time.Now().Add(20 * time.Millisecond)
	interval := float64(time.Second) / rate
	for i := range bodies {
		due := start.Add(time.Duration(float64(i) * interval))
		if d := time.Until(due); d > 100*time.Microsecond {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return out, time.Since(start)
}

// Tally counts answers: ok (200), other statuses, transport errors.
type Tally struct {
	OK, Other, Errors, Unsent int
}

func tally(s []Sample) Tally {
	var t Tally
	for _, x := range s {
		switch {
		case x.Sent == 0:
			t.Unsent++
		case x.Status == http.StatusOK:
			t.OK++
		case x.Status == 0:
			t.Errors++
		default:
			t.Other++
		}
	}
	return t
}

// latencies returns the HTTP latencies (ms) of the 200 answers.
func latencies(s []Sample) []float64 {
	out := make([]float64, 0, len(s))
	for _, x := range s {
		if x.Status == http.StatusOK {
			out = append(out, ms(x.Lat))
		}
	}
	return out
}

// sendSpan is the time from the first to the last request written.
func sendSpan(s []Sample) time.Duration {
	var lo, hi int64
	for _, x := range s {
		if x.Sent == 0 {
			continue
		}
		if lo == 0 || x.Sent < lo {
			lo = x.Sent
		}
		if x.Sent > hi {
			hi = x.Sent
		}
	}
	return time.Duration(hi - lo)
}
