package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
)

// PollRun is one run of the poll section.
type PollRun struct {
	Throughput float64 `json:"throughput"` // updates/s from the first getUpdates to the one that confirmed the last
	Seconds    float64 `json:"seconds"`
	GetUpdates int     `json:"get_updates"` // calls it took
}

// PollSeries is the runs of one way of running the poller, and their
// median.
type PollSeries struct {
	Name       string    `json:"name"`
	Runs       []PollRun `json:"runs"`
	Throughput float64   `json:"throughput"` // median
	TputMin    float64   `json:"throughput_min"`
	TputMax    float64   `json:"throughput_max"`
}

// PollResults is the poll section: one INGEST=poll instance taking a
// backlog of updates from a fake Bot API that answers getUpdates at once,
// PASSIVE (the bench holds the shard's lease: ingest alone, as in the
// ingest section) and ACTIVE (it also dispatches what it polls).
type PollResults struct {
	Updates int          `json:"updates"` // per run
	Limit   int          `json:"limit"`   // getUpdates' batch
	Series  []PollSeries `json:"series"`
}

// pollToken is a token of valid shape for the bench's fake Bot API.
const pollToken = "123456:BENCHtokenBENCHtokenBENCHtokenBENCH"

// benchPoll: for each run a fresh fake Bot API (in this process, over
// HTTP) holds a backlog of updates before one `dispatcher serve` with
// INGEST=poll starts; the poller takes them in batches of 100, each update
// through the webhook's ingest path (dedupe, backlog, append, events), the
// offset stored in Redis after each batch and confirmed by the next
// getUpdates. The figure is the updates over the time from the first
// getUpdates to the one whose offset passed the last update (the fake's
// record, one clock). The updates are group commands addressed to another
// bot, which the reference bot dispatches without a Bot API call, so the
// one instance's workers cost little beside the polling.
func benchPoll(ctx context.Context, e *Env) (*PollResults, error) {
	n := 20000
	if e.Quick {
		n = 2000
	}
	res := &PollResults{Updates: n, Limit: 100}
	for _, dispatch := range []bool{false, true} {
		name := "ingest only (PASSIVE: the bench holds the shard's lease)"
		if dispatch {
			name = "ingest and dispatch (the instance is ACTIVE too)"
		}
		sr := PollSeries{Name: name}
		for run := range e.Runs {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			r, err := pollRun(ctx, e, n, len(res.Series)*e.Runs+run, dispatch)
			if err != nil {
				return res, err
			}
			logf("poll (%s) run %d: %d updates in %.2f s, %s/s, %d getUpdates", name, run+1, n, r.Seconds, num(r.Throughput), r.GetUpdates)
			sr.Runs = append(sr.Runs, r)
		}
		var tput []float64
		for _, r := range sr.Runs {
			tput = append(tput, r.Throughput)
		}
		sr.Throughput = median(tput)
		sr.TputMin, sr.TputMax = minMax(tput)
		res.Series = append(res.Series, sr)
	}
	return res, nil
}

func pollRun(ctx context.Context, e *Env, n, run int, dispatch bool) (PollRun, error) {
	if err := e.Redis.Reset(ctx); err != nil {
		return PollRun{}, err
	}
	ns := fmt.Sprintf("bp%d", run)
	if !dispatch {
		release, err := holdLease(e.Redis.Client, ns)
		if err != nil {
			return PollRun{}, err
		}
		defer release()
	}
	bot := fakebot.New()
	api := httptest.NewServer(bot)
	defer api.Close()
	first := e.ids(n)
	bodies := make([][]byte, n)
	for i := range bodies {
		id := first + int64(i)
		chat := -1000000 - id%64
		bodies[i] = []byte(fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":1764300000,"text":"/start@other_bot",`+
			`"chat":{"id":%d,"type":"group","title":"g"},"from":{"id":%d,"is_bot":false,"first_name":"B"},`+
			`"entities":[{"type":"bot_command","offset":0,"length":16}]}}`, id, id, chat, 5000+id%64))
	}
	ids, err := bot.QueueAll(bodies...)
	if err != nil {
		return PollRun{}, err
	}
	last := ids[len(ids)-1]
	env := instanceEnv(e, ns, map[string]string{"INGEST": "poll", "BOT_TOKEN": pollToken,
		"SANDBOX": "false", "TELEGRAM_API_URL": api.URL})
	delete(env, "WEBHOOK_SECRET")
	recordCommand("dispatcher serve   # poll: one instance, env " + envString(env) + " INGEST=poll TELEGRAM_API_URL=http://127.0.0.1:PORT (the bench's fake Bot API; PASSIVE or ACTIVE)")
	in, err := startInstance(e.Bin, e.Work, fmt.Sprintf("bench-poll-%d", run), env)
	if err != nil {
		return PollRun{}, err
	}
	defer in.Stop()
	if err := in.WaitRole("", 30*time.Second); err != nil {
		return PollRun{}, fmt.Errorf("poll run %d: %w", run+1, err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for bot.Confirmed() <= last {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return PollRun{}, fmt.Errorf("poll run %d: offset %d of %d after 5 min", run+1, bot.Confirmed(), last+1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, t1 := bot.ConfirmedAt()
	var t0 time.Time
	calls := 1 // the one that confirmed the last update still waits for more
	for _, c := range bot.CallsOf("getUpdates") {
		if t0.IsZero() {
			t0 = c.At
		}
		if c.At.Before(t1) {
			calls++
		}
	}
	if t0.IsZero() || !t1.After(t0) {
		return PollRun{}, fmt.Errorf("poll run %d: no getUpdates confirmed the last update", run+1)
	}
	if code := statusOf(in.URL("/readyz")); code != http.StatusOK {
		return PollRun{}, fmt.Errorf("poll run %d: /readyz %d at the end", run+1, code)
	}
	d := t1.Sub(t0)
	return PollRun{Throughput: float64(n) / d.Seconds(), Seconds: d.Seconds(), GetUpdates: calls}, nil
}

func statusOf(url string) int {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func pollSection(w writer, r *Results) {
	p := r.Poll
	w("## Long polling: updates/s through one poller\n\n")
	w("One instance with `INGEST=poll` (every other setting at its default) takes a backlog of %s updates from a fake\n", commas(int64(p.Updates)))
	w("Bot API (in the bench's process, over HTTP) that answers `getUpdates` at once, %d updates a call. Each update\n", p.Limit)
	w("goes through the webhook's ingest path (dedupe, backlog check, append: one Lua call), one after another in\n")
	w("`update_id` order, and the offset past each batch is stored in Redis (a fenced script) before the next\n")
	w("`getUpdates` confirms it. The figure is the updates over the time from the first `getUpdates` to the one whose\n")
	w("offset passed the last update (the fake's record, one clock). PASSIVE: the bench holds the shard's lease, so the\n")
	w("instance only polls and ingests, as in the ingest section; ACTIVE: it also dispatches them (group commands\n")
	w("addressed to another bot, which the reference bot takes with no Bot API call).\n\n")
	w("| instance | runs | updates/s (median) | min | max | getUpdates calls |\n|---|---|---|---|---|---|\n")
	for _, sr := range p.Series {
		calls := 0
		if len(sr.Runs) > 0 {
			calls = sr.Runs[0].GetUpdates
		}
		w("| %s | %d | **%s** | %s | %s | %d |\n", sr.Name, len(sr.Runs), num(sr.Throughput), num(sr.TputMin), num(sr.TputMax), calls)
	}
	w("\nOne poller is the ceiling of long polling: it is the one instance that calls `getUpdates`, and it appends one\n")
	w("update at a time so that the offset never passes an update that is not on its stream (docs/ingest.md). The\n")
	w("webhook has no such ceiling: every instance ingests, many requests at once (see the ingest section).\n\n")
}
