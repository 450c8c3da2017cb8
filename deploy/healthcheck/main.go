// Command healthcheck is the container health probe shipped in the dispatcher
// image, which has no shell, curl or wget. It sends GET to one URL (default
// http://127.0.0.1:8080/healthz) and exits 0 when the answer is 2xx within the
// timeout, 1 otherwise, printing why on stderr:
//
//	/healthcheck http://127.0.0.1:8080/readyz
//
// Docker and Compose use it; Kubernetes and Render probe over HTTP themselves.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

const defaultURL = "http://127.0.0.1:8080/healthz"

func main() {
	timeout := flag.Duration("timeout", 2*time.Second, "deadline of the request")
	flag.Parse()
	url := defaultURL
	if flag.NArg() > 0 {
		url = flag.Arg(0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := probe(ctx, url); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

// errStatus is a non-2xx answer.
var errStatus = errors.New("healthcheck: not healthy")

// probe GETs url and returns nil on a 2xx answer.
func probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: %s answered %s", errStatus, url, resp.Status)
	}
	return nil
}
