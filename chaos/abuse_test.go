package chaos

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// abuse is a stranger's traffic at the webhook of every instance while the
// load runs: each kind of request is sent a known number of times, so the
// WEBHOOK_REJECTED events can be counted exactly.
type abuse struct {
	name   string
	reason string // reason_code of its WEBHOOK_REJECTED; "" when net/http refuses it first
	status int
	n      int // requests per instance
	req    func(addr string, i int) (*http.Request, error)
}

// foreignID numbers the updates a stranger forges: far from the load's.
func foreignID(i int) int64 { return 4_000_000_000 + int64(i) }

func abuses() []abuse {
	post := func(addr string, body io.Reader, secret string) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/webhook", body)
		if err == nil && secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		return req, err
	}
	head, tail := `{"update_id":3999999999,"message":{"text":"`, `"}}`
	over := []byte(head + strings.Repeat("a", 1<<20+1-len(head)-len(tail)) + tail) // 1 MiB + 1 byte
	nested := []byte(`{"update_id":3999999998,"message":` + strings.Repeat(`{"a":`, 50000) + "1" + strings.Repeat("}", 50001))
	return []abuse{
		{name: "forged update without the secret", reason: "UNAUTHORIZED", status: 401, n: 60,
			req: func(a string, i int) (*http.Request, error) {
				return post(a, bytes.NewReader(world.StartMessage(foreignID(i), 555)), "")
			}},
		{name: "forged update with a wrong secret", reason: "UNAUTHORIZED", status: 401, n: 60,
			req: func(a string, i int) (*http.Request, error) {
				return post(a, bytes.NewReader(world.StartMessage(foreignID(1000+i), 555)), "guess-"+fmt.Sprint(i))
			}},
		{name: "GET", reason: "METHOD_NOT_ALLOWED", status: 405, n: 20,
			req: func(a string, i int) (*http.Request, error) {
				return http.NewRequest(http.MethodGet, "http://"+a+"/webhook", nil)
			}},
		{name: "1 MiB + 1 body", reason: "PAYLOAD_TOO_LARGE", status: 413, n: 10,
			req: func(a string, i int) (*http.Request, error) {
				return post(a, bytes.NewReader(over), world.WebhookSecret)
			}},
		{name: "truncated update", reason: "BAD_PAYLOAD", status: 400, n: 30,
			req: func(a string, i int) (*http.Request, error) {
				b := world.StartMessage(foreignID(2000+i), 555)
				return post(a, bytes.NewReader(b[:1+i%(len(b)-1)]), world.WebhookSecret)
			}},
		{name: "nested 50000 deep", reason: "BAD_PAYLOAD", status: 400, n: 5,
			req: func(a string, i int) (*http.Request, error) {
				return post(a, bytes.NewReader(nested), world.WebhookSecret)
			}},
		{name: "200 KiB header", status: 431, n: 10,
			req: func(a string, i int) (*http.Request, error) {
				req, err := post(a, bytes.NewReader(world.StartMessage(foreignID(3000+i), 555)), world.WebhookSecret)
				if err == nil {
					req.Header.Set("X-Junk", strings.Repeat("j", 200<<10))
				}
				return req, err
			}},
	}
}

// attack sends every abuse to every running instance, and holds conns
// connections per instance that never finish their headers, until it
// returns. It returns the statuses seen per abuse and the requests that
// got no answer.
func attack(ins []*proctest.Instance, conns int) (map[string]map[int]int, int) {
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	seen := map[string]map[int]int{}
	failed := 0
	var held []net.Conn
	for _, in := range ins {
		for i := 0; i < conns; i++ {
			c, err := net.Dial("tcp", in.Addr)
			if err != nil {
				continue
			}
			_, _ = io.WriteString(c, "POST /webhook HTTP/1.1\r\nHost: x\r\n")
			held = append(held, c)
		}
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	var wg sync.WaitGroup
	for _, a := range abuses() {
		seen[a.name] = map[int]int{}
		for _, in := range ins {
			wg.Add(1)
			go func(a abuse, addr string) {
				defer wg.Done()
				for i := 0; i < a.n; i++ {
					req, err := a.req(addr, i)
					if err != nil {
						panic(err)
					}
					resp, err := client.Do(req)
					mu.Lock()
					if err != nil {
						failed++
					} else {
						seen[a.name][resp.StatusCode]++
					}
					mu.Unlock()
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			}(a, in.Addr)
		}
	}
	wg.Wait()
	return seen, failed
}

// abuseFault is the fault of the webhook-abuse scenario: strangers attack
// every instance while the load runs; each abuse must get its status and
// one WEBHOOK_REJECTED per request (when the request reaches the webhook).
func abuseFault(h *harness) {
	_, token := h.mustLeader()
	before := map[string]int{}
	for _, a := range abuses() {
		before[a.reason] = h.count("WEBHOOK_REJECTED", a.reason)
	}
	h.fault("strangers at the webhook", token, false)
	ins := h.live()
	seen, failed := attack(ins, 100)
	want := map[string]int{}
	total := 0
	for _, a := range abuses() {
		n := a.n * len(ins)
		total += n
		if seen[a.name][a.status] != n {
			h.t.Errorf("%s: %d of %d answered %d: %v", a.name, seen[a.name][a.status], n, a.status, seen[a.name])
		}
		if a.reason != "" {
			want[a.reason] += n
		}
	}
	if failed > 0 {
		h.t.Errorf("%d hostile requests got no answer", failed)
	}
	for reason, n := range want {
		if got := h.count("WEBHOOK_REJECTED", reason) - before[reason]; got != n {
			h.t.Errorf("WEBHOOK_REJECTED %s: %d, want %d", reason, got, n)
		}
	}
	h.note("%d hostile requests to each of %d instances (%d in all: no or wrong secret, GET, 1 MiB + 1, truncated, "+
		"nested 50000 deep, 200 KiB headers) each got its status and, when it reached the webhook, one WEBHOOK_REJECTED "+
		"with its reason; 100 connections per instance held with unfinished headers meanwhile", total/len(ins), len(ins), total)
}
