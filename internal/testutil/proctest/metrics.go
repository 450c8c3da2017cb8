package proctest

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Metrics fetches the instance's /metrics and returns every sample by its
// series as printed: the name alone for a series without labels
// (go_goroutines), else the name with its labels
// (dispatcher_webhook_rejections_total{reason="UNAUTHORIZED"}).
func (in *Instance) Metrics() (map[string]float64, error) {
	resp, err := client.Get(in.URL("/metrics"))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("proctest: %s /metrics: status %d", in.ID, resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// Sum adds up every sample of metric name in m, whatever its labels (every
// series of the instance carries redis_namespace, so the bare name is never
// a key of m).
func Sum(m map[string]float64, name string) float64 {
	var total float64
	for series, v := range m {
		if series == name || strings.HasPrefix(series, name+"{") {
			total += v
		}
	}
	return total
}
