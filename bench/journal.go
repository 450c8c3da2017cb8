package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/journal"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// JournalResults is the event journal section (issue 17): Redis bytes per
// handled update, for two mixes of updates.
type JournalResults struct {
	N     int          `json:"n"`
	Mixes []JournalMix `json:"mixes"`
	Runs  []JournalRun `json:"runs"`
	Limit float64      `json:"limit_bytes"` // the target: at most this per update
}

// JournalMix is one mix's medians.
type JournalMix struct {
	Name        string  `json:"name"`
	What        string  `json:"what"`
	Events      float64 `json:"events_per_update"`
	JSONBytes   float64 `json:"json_bytes_per_update"` // the same events as JSON lines (what the journal kept before)
	InfoBytes   float64 `json:"info_bytes_per_update"` // INFO used_memory growth less the run without the journal
	MemoryBytes float64 `json:"memory_usage_bytes_per_update"`
	FailShare   float64 `json:"fail_tier_share"` // of the journal's keys, in the fail tier
}

// JournalRun is one journalmem run.
type JournalRun struct {
	Mix         string  `json:"mix"`
	Events      float64 `json:"events_per_update"`
	JSONBytes   float64 `json:"json_bytes_per_update"`
	InfoBytes   float64 `json:"info_bytes_per_update"`
	MemoryBytes float64 `json:"memory_usage_bytes_per_update"`
	FailBytes   float64 `json:"fail_tier_bytes_per_update"`
}

// journalMixes: the no-op mix is the memory section's (the updates the
// reference bot does nothing with: 4 events each); menu clicks are
// callback queries whose handler logs what the reference bot logs for a
// click, one in twenty refused as a stale button.
var journalMixes = []struct{ name, what string }{
	{"no-op", "the " + strconv.Itoa(len(noopFixtures)) + " no-op fixtures, as in the memory section: enqueue, pick, start, ok"},
	{"menu clicks", "callback queries handled as the reference bot handles a click (received, routed, accepted, screen, answer), 1 in 20 refused with STATE_MISMATCH"},
}

func benchJournal(ctx context.Context, e *Env) (*JournalResults, error) {
	n := 100000
	if e.Quick {
		n = 5000
	}
	runs := min(e.Runs, 3)
	res := &JournalResults{N: n, Limit: 300}
	for _, mix := range journalMixes {
		recordCommand(fmt.Sprintf("bench journalmem -redis redis://127.0.0.1:PORT -n %d -mix %q -fixtures internal/queue/testdata/updates   # Redis emptied before each run", n, mix.name))
		var rs []JournalRun
		for i := range runs {
			if err := e.Redis.Reset(ctx); err != nil {
				return nil, err
			}
			var r JournalRun
			if err := runSub(ctx, e, &r, "journalmem", "-redis", e.Redis.URL(), "-n", strconv.Itoa(n), "-mix", mix.name, "-fixtures", e.Fixtures); err != nil {
				return nil, err
			}
			logf("journal %s run %d: %.1f events, %.0f B of JSON, %.0f B (INFO), %.0f B (MEMORY USAGE) per update", mix.name, i+1,
				r.Events, r.JSONBytes, r.InfoBytes, r.MemoryBytes)
			rs = append(rs, r)
		}
		res.Runs = append(res.Runs, rs...)
		m := JournalMix{Name: mix.name, What: mix.what,
			Events:      median(pick(rs, func(r JournalRun) float64 { return r.Events })),
			JSONBytes:   median(pick(rs, func(r JournalRun) float64 { return r.JSONBytes })),
			InfoBytes:   median(pick(rs, func(r JournalRun) float64 { return r.InfoBytes })),
			MemoryBytes: median(pick(rs, func(r JournalRun) float64 { return r.MemoryBytes })),
		}
		if m.MemoryBytes > 0 {
			m.FailShare = median(pick(rs, func(r JournalRun) float64 { return r.FailBytes })) / m.MemoryBytes
		}
		res.Mixes = append(res.Mixes, m)
	}
	return res, nil
}

// runJournalMem is the subcommand that measures the journal's Redis bytes
// per handled update, on an empty Redis, with the pipeline as served
// (webhook handler, worker pool, Logger with the journal as its Sink):
//
//  1. without the journal: n updates through the webhook handler while
//     the workers handle them; the growth of INFO used_memory (less the
//     clients' buffers) is what stays of a handled update without the
//     journal (its dedupe marker);
//  2. Redis emptied, the same with the journal: the growth, less 1, per
//     update; and the journal's keys measured directly (MEMORY USAGE ...
//     SAMPLES 0, plus the 8 bytes of each hash entry it leaves out), per
//     update.
func runJournalMem(args []string) int {
	fs := flag.NewFlagSet("journalmem", flag.ExitOnError)
	url := fs.String("redis", "", "redis URL")
	n := fs.Int("n", 100000, "updates")
	mix := fs.String("mix", "no-op", "no-op or menu clicks")
	fixtures := fs.String("fixtures", "", "fixtures directory")
	_ = fs.Parse(args)
	names := noopFixtures
	if *mix == "menu clicks" {
		names = []string{"callback_query.json"}
	}
	corpus, err := loadCorpus(*fixtures, names, 5000)
	var r JournalRun
	if err == nil {
		r, err = journalMem(*url, corpus, *n, *mix)
	}
	return printResult("journalmem", r, err)
}

func journalMem(url string, corpus *Corpus, n int, mix string) (JournalRun, error) {
	ctx := context.Background()
	opt, err := redis.ParseURL(url)
	if err != nil {
		return JournalRun{}, err
	}
	c := redis.NewClient(opt)
	defer c.Close()
	used := func() float64 {
		time.Sleep(200 * time.Millisecond) // let lazy frees settle
		total, clients := infoMemory(ctx, c)
		return total - clients
	}
	r := JournalRun{Mix: mix}
	pass := func(withJournal bool, first int64) (float64, error) {
		h := newClickHandler(int64(n), mix == "menu clicks")
		lines := &lineCounter{}
		p, err := newPipeline(PipelineOptions{RedisURL: url, Namespace: "bj", Instance: "bench-journal", Journal: withJournal,
			Handler: h, LogOut: lines})
		if err != nil {
			return 0, err
		}
		defer p.Close()
		h.log = p.log
		if err := p.rc.Ping(ctx).Err(); err != nil {
			return 0, err
		}
		if err := p.StartWorkers(10 * time.Second); err != nil {
			return 0, err
		}
		base := used()
		var bad atomic.Int64
		if errs, _ := produce(corpus.Bodies(first, n, 5), 8, func(b []byte) error {
			if code := p.Enqueue(b); code != 200 {
				bad.Add(1)
			}
			return nil
		}); errs > 0 || bad.Load() > 0 {
			return 0, fmt.Errorf("%d enqueues failed", bad.Load())
		}
		select {
		case <-h.done:
		case <-time.After(5 * time.Minute):
			return 0, fmt.Errorf("not all handled")
		}
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if l, pend, err := p.Backlog(ctx); err == nil && l == 0 && pend == 0 {
				break
			}
		}
		if withJournal {
			fctx, cancel := context.WithTimeout(ctx, time.Minute)
			err := p.journal.Flush(fctx)
			cancel()
			if err != nil {
				return 0, err
			}
			if f := p.journal.Failures(); f > 0 {
				return 0, fmt.Errorf("the journal lost %d events", f)
			}
			events, bytes := lines.counts()
			r.Events, r.JSONBytes = float64(events)/float64(n), float64(bytes)/float64(n)
			all, fail, err := journal.ExactSize(ctx, c, keys.New("bj"))
			if err != nil {
				return 0, err
			}
			r.MemoryBytes, r.FailBytes = float64(all)/float64(n), float64(fail)/float64(n)
		}
		return used() - base, nil
	}
	without, err := pass(false, 3_200_000_000)
	if err != nil {
		return r, err
	}
	if err := c.FlushAll(ctx).Err(); err != nil {
		return r, err
	}
	with, err := pass(true, 3_300_000_000)
	if err != nil {
		return r, err
	}
	r.InfoBytes = (with - without) / float64(n)
	return r, nil
}

// infoMemory returns INFO used_memory and mem_clients_normal.
func infoMemory(ctx context.Context, c *redis.Client) (total, clients float64) {
	s, _ := c.Info(ctx, "memory").Result()
	for _, line := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			total, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(line, "mem_clients_normal:"); ok {
			clients, _ = strconv.ParseFloat(v, 64)
		}
	}
	return total, clients
}

// lineCounter counts the JSON lines about an update (they carry a cid)
// and their bytes: what the journal kept per event before issue 17.
type lineCounter struct {
	mu            sync.Mutex
	events, bytes int64
}

func (l *lineCounter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), `"cid":"`) {
		l.mu.Lock()
		l.events++
		l.bytes += int64(len(p) - 1)
		l.mu.Unlock()
	}
	return len(p), nil
}

func (l *lineCounter) counts() (int64, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.events, l.bytes
}

var _ io.Writer = (*lineCounter)(nil)

// clickHandler counts calls like noopHandler; with menu, it logs what the
// reference bot logs for a click on a category button (1 in 20 refused as
// a stale button).
type clickHandler struct {
	*noopHandler
	menu  bool
	log   *telemetry.Logger
	calls atomic.Int64
}

func newClickHandler(target int64, menu bool) *clickHandler {
	return &clickHandler{noopHandler: newNoop(target), menu: menu}
}

func (h *clickHandler) Handle(ctx context.Context, u *update.Update) error {
	if h.menu && u.Telego.CallbackQuery != nil {
		l := h.log
		l.CallbackReceived(ctx, "v1:cat:image@mmx114pnb")
		l.CallbackRouted(ctx, "category", "cat:image")
		if h.calls.Add(1)%20 == 0 {
			l.CallbackRejected(ctx, telemetry.ReasonStateMismatch, "Button expired, use /start", "MAIN_MENU", "MODEL_PICK")
			l.AnswerCallbackQuery(ctx, "Button expired, use /start")
		} else {
			l.CallbackAccepted(ctx, "MODEL_PICK")
			l.UIRender(ctx, "MODEL_PICK", []telemetry.ButtonID{"model:flux", "model:sdxl", "back"})
			l.AnswerCallbackQuery(ctx, "")
		}
	}
	return h.noopHandler.Handle(ctx, u)
}
