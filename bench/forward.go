package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
)

// ForwardRun is one run of the forward section.
type ForwardRun struct {
	Sent       int     `json:"sent"`       // answered 200 by the first hop
	Received   int     `json:"received"`   // deliveries the bot received
	Throughput float64 `json:"throughput"` // received over the time from the first send to the last receipt
	Latency    Dist    `json:"latency"`    // send of the webhook → the bot's handler start
}

// ForwardSeries is the runs of one way of serving the bot.
type ForwardSeries struct {
	Name       string       `json:"name"`
	Runs       []ForwardRun `json:"runs"`
	Throughput float64      `json:"throughput"` // medians of the runs
	P50        float64      `json:"p50_ms"`
	P99        float64      `json:"p99_ms"`
	P99Min     float64      `json:"p99_min_ms"`
	P99Max     float64      `json:"p99_max_ms"`
}

// ForwardResults is the forward section: the grammY bot of the e2e tests
// served alone by its framework's webhook server (Telegram's POSTs go to
// it directly), and behind one dispatcher in forward mode (the POSTs go to
// the dispatcher, which delivers to the bot), at a fixed rate.
type ForwardResults struct {
	Rate    float64         `json:"rate"`
	Updates int             `json:"updates"` // per run
	Series  []ForwardSeries `json:"series"`
	// AddedP50, AddedP99: forward mode's medians minus the bot alone's
	AddedP50 float64 `json:"added_p50_ms"`
	AddedP99 float64 `json:"added_p99_ms"`
}

// benchForward: for each run a fresh grammY bot (node, e2e/testdata/
// grammybot) and, in forward mode, a fresh `dispatcher serve` with
// UPSTREAM_URL pointing at it. The load posts plain text messages of 64
// chats at 1,000/s (an open loop); the bot takes them with no Bot API call
// and records, per update, when its handler started (the wall clock, as
// the load's send times). The latency is from the load's write of the
// webhook request to that moment.
func benchForward(ctx context.Context, e *Env) (*ForwardResults, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("node is not installed (apt-get install -y nodejs npm): %w", err)
	}
	dir := filepath.Join(e.Repo, "e2e", "testdata", "grammybot")
	if err := npmCI(dir); err != nil {
		return nil, err
	}
	rate, secs := 1000.0, 10
	if e.Quick {
		secs = 2
	}
	n := int(rate) * secs
	res := &ForwardResults{Rate: rate, Updates: n}
	names := []string{"the grammY bot alone (its own webhook server)", "the same bot behind one dispatcher (forward mode)"}
	series := []ForwardSeries{{Name: names[0]}, {Name: names[1]}}
	// the two ways alternate run by run, so that both meet the same load of
	// a shared machine
	for run := range e.Runs {
		for i, forward := range []bool{false, true} {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			r, err := forwardRun(ctx, e, dir, n, rate, 2*run+i, forward)
			if err != nil {
				return res, err
			}
			logf("forward (%s) run %d: %d of %d received, %s/s, p50 %s ms, p99 %s ms", names[i], run+1, r.Received, n,
				num(r.Throughput), num(r.Latency.P50), num(r.Latency.P99))
			series[i].Runs = append(series[i].Runs, r)
		}
	}
	for _, sr := range series {
		sr.Throughput = median(pick(sr.Runs, func(r ForwardRun) float64 { return r.Throughput }))
		sr.P50 = median(pick(sr.Runs, func(r ForwardRun) float64 { return r.Latency.P50 }))
		p99 := pick(sr.Runs, func(r ForwardRun) float64 { return r.Latency.P99 })
		sr.P99 = median(p99)
		sr.P99Min, sr.P99Max = minMax(p99)
		res.Series = append(res.Series, sr)
	}
	res.AddedP50 = res.Series[1].P50 - res.Series[0].P50
	res.AddedP99 = res.Series[1].P99 - res.Series[0].P99
	return res, nil
}

// npmCI installs the bot's packages from its lockfile when missing.
func npmCI(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "grammy", "package.json")); err == nil {
		return nil
	}
	cache, err := os.MkdirTemp("", "bench-npm-cache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cache)
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--cache", cache)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	return nil
}

// nodeBot is one bot.js process.
type nodeBot struct {
	url string
	cmd *exec.Cmd
}

func startNodeBot(dir string) (*nodeBot, error) {
	cmd := exec.Command("node", "bot.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BOT_TOKEN="+pollToken, "UPSTREAM_SECRET="+benchSecret, "PORT=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return &nodeBot{url: "http://" + a, cmd: cmd}, nil
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("the grammY bot did not start within 20s")
	}
}

func (b *nodeBot) stop() { _ = b.cmd.Process.Kill(); _ = b.cmd.Wait() }

func (b *nodeBot) configure(apiRoot string) error {
	resp, err := http.Post(b.url+"/_configure", "application/json", strings.NewReader(fmt.Sprintf(`{"apiRoot":%q}`, apiRoot)))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("configure the bot: %d", resp.StatusCode)
	}
	return nil
}

// received returns, per update_id, when the bot's handler started (unix ns).
func (b *nodeBot) received() (map[int64]int64, error) {
	resp, err := http.Get(b.url + "/_state")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st struct {
		Deliveries []struct {
			UpdateID int64   `json:"update_id"`
			T        float64 `json:"t"`
		} `json:"deliveries"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, err
	}
	out := make(map[int64]int64, len(st.Deliveries))
	for _, d := range st.Deliveries {
		if _, dup := out[d.UpdateID]; !dup {
			out[d.UpdateID] = int64(d.T * 1e6)
		}
	}
	return out, nil
}

func forwardRun(ctx context.Context, e *Env, dir string, n int, rate float64, run int, forward bool) (ForwardRun, error) {
	bot, err := startNodeBot(dir)
	if err != nil {
		return ForwardRun{}, err
	}
	defer bot.stop()
	target := bot.url + "/webhook"
	if forward {
		if err := e.Redis.Reset(ctx); err != nil {
			return ForwardRun{}, err
		}
		env := instanceEnv(e, fmt.Sprintf("bf%d", run), map[string]string{"UPSTREAM_URL": target, "UPSTREAM_SECRET": benchSecret})
		recordCommand("dispatcher serve   # forward: one instance, env " + envString(env) +
			" UPSTREAM_URL=http://127.0.0.1:PORT/webhook (the grammY bot of e2e/testdata/grammybot) UPSTREAM_SECRET=...")
		in, err := startInstance(e.Bin, e.Work, fmt.Sprintf("bench-forward-%d", run), env)
		if err != nil {
			return ForwardRun{}, err
		}
		defer in.Stop()
		if err := in.WaitRole("ACTIVE", 30*time.Second); err != nil {
			return ForwardRun{}, err
		}
		if err := bot.configure(in.URL("")); err != nil {
			return ForwardRun{}, err
		}
		target = in.URL("/webhook")
	} else {
		api := httptest.NewServer(fakebot.New()) // the bot makes no call; its apiRoot must be somewhere
		defer api.Close()
		if err := bot.configure(api.URL); err != nil {
			return ForwardRun{}, err
		}
	}
	first := e.ids(n)
	bodies := make([][]byte, n)
	for i := range bodies {
		id := first + int64(i)
		chat := 7000 + id%64
		bodies[i] = []byte(fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":1764300000,"text":"hello",`+
			`"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"F"}}}`, id, id, chat, chat))
	}
	l, err := newLoad([]string{target}, benchSecret, 256)
	if err != nil {
		return ForwardRun{}, err
	}
	defer l.Close()
	samples, _ := l.Open(bodies, rate, 256, time.Duration(n)*time.Second/time.Duration(rate)+30*time.Second)
	sent := tally(samples).OK
	var got map[int64]int64
	deadline := time.Now().Add(60 * time.Second)
	for {
		if got, err = bot.received(); err != nil {
			return ForwardRun{}, err
		}
		if len(got) >= sent || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var lat []float64
	var t0, t1 int64
	for i, s := range samples {
		at, ok := got[first+int64(i)]
		if !ok || s.Sent == 0 {
			continue
		}
		lat = append(lat, float64(at-s.Sent)/1e6)
		if t0 == 0 || s.Sent < t0 {
			t0 = s.Sent
		}
		t1 = max(t1, at)
	}
	r := ForwardRun{Sent: sent, Received: len(got), Latency: distOf(lat)}
	if t1 > t0 {
		r.Throughput = float64(len(lat)) / (float64(t1-t0) / 1e9)
	}
	if len(got) < sent {
		return r, fmt.Errorf("forward run %d: the bot received %d of %d updates", run+1, len(got), sent)
	}
	return r, nil
}

func forwardSection(w writer, r *Results) {
	f := r.Forward
	w("## Forward mode: a grammY bot behind the dispatcher\n\n")
	w("The grammY bot of the e2e tests (`e2e/testdata/grammybot/bot.js`, grammY's `webhookCallback` on node's http\n")
	w("server) takes %s plain text messages of 64 chats, posted at %s/s (an open loop, 256 connections), with no Bot API\n",
		commas(int64(f.Updates)), num(f.Rate))
	w("call. *Alone*: the load posts to the bot's webhook, as Telegram would to a bot on one process. *Forward mode*: the\n")
	w("load posts to one `dispatcher serve` (`UPSTREAM_URL` at the bot, every other setting at its default, Redis as in the\n")
	w("other sections), which answers 200 once the update is in Redis and delivers it to the bot, one at a time per chat.\n")
	w("The latency is from the load's write of the webhook request to the start of the bot's handler (the bot records it,\n")
	w("same machine, same clock); updates/s is what the bot received over the time from the first send to the last receipt.\n\n")
	w("| served | runs | updates/s (median) | p50 ms (median) | p99 ms (median) | p99 ms, best and worst run |\n|---|---|---|---|---|---|\n")
	for _, sr := range f.Series {
		w("| %s | %d | **%s** | **%s** | **%s** | %s – %s |\n", sr.Name, len(sr.Runs), num(sr.Throughput), num(sr.P50), num(sr.P99),
			num(sr.P99Min), num(sr.P99Max))
	}
	w("\nThe runs of the two alternate, so that both meet the same load of the machine (its load average is in the table\n")
	w("above). Forward mode adds **%s ms** at the median to webhook → handler start: the durable append,\n", num(f.AddedP50))
	w("the stream read by the ACTIVE instance and one more HTTP hop.")
	if f.AddedP99 > 0 {
		w(" At p99 it adds %s ms.", num(f.AddedP99))
	} else {
		w(" At p99 the two do not separate in this run: the tail is the shared machine's (p99 of the bot alone %s ms,\n", num(f.Series[0].P99))
		w("behind the dispatcher %s ms).", num(f.Series[1].P99))
	}
	w(" In exchange the bot gets per-chat order, retries\n")
	w("and dead letters, leases and fencing across replicas, and the event chain (docs/forward-mode.md).\n\n")
}
