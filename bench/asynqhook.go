package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
)

// runAsynqHook is asynq behind a webhook, the end-to-end peer of
// `dispatcher serve` (the e2e section): a net/http server whose POST
// handler checks the secret header, enqueues the body as an asynq task
// (asynq.Client.Enqueue, default options) and answers 200 once it is
// enqueued; and an asynq.Server of WORKERS workers whose handler writes a
// DISPATCH_START line (ts, update_id) to stdout before it returns, as
// `dispatcher serve` does before it calls its handler. GET /readyz answers
// {"role":"ACTIVE"}. ASYNQ_TASK_CHECK_INTERVAL sets asynq's
// TaskCheckInterval (its wait when every queue was empty; 0: asynq's
// default of 1 s). It reads LISTEN_ADDR, REDIS_URL, WEBHOOK_SECRET and
// WORKERS from the environment, as startInstance sets them, and serves
// until SIGTERM.
func runAsynqHook([]string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "asynqhook:", err); return 1 }
	opt, err := asynq.ParseRedisURI(os.Getenv("REDIS_URL"))
	if err != nil {
		return fail(err)
	}
	workers, _ := strconv.Atoi(os.Getenv("WORKERS"))
	if workers < 1 {
		workers = 16
	}
	check, _ := time.ParseDuration(os.Getenv("ASYNQ_TASK_CHECK_INTERVAL"))
	secret := os.Getenv("WEBHOOK_SECRET")

	client := asynq.NewClient(opt)
	defer client.Close()
	var outMu sync.Mutex
	mux := asynq.NewServeMux()
	mux.HandleFunc("update", func(ctx context.Context, t *asynq.Task) error {
		at := time.Now()
		var u struct {
			UpdateID int64 `json:"update_id"`
		}
		_ = json.Unmarshal(t.Payload(), &u)
		line := fmt.Appendf(nil, `{"ts":%q,"name":"DISPATCH_START","update_id":%d}`+"\n",
			at.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), u.UpdateID)
		outMu.Lock()
		_, _ = os.Stdout.Write(line)
		outMu.Unlock()
		return nil
	})
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: workers, LogLevel: asynq.WarnLevel, TaskCheckInterval: check})
	if err := srv.Start(mux); err != nil {
		return fail(err)
	}
	defer srv.Shutdown()

	h := http.NewServeMux()
	h.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"instance":"asynq","role":"ACTIVE"}`)
	})
	h.HandleFunc("POST /webhook", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Telegram-Bot-Api-Secret-Token") != secret {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if _, err := client.EnqueueContext(r.Context(), asynq.NewTask("update", body)); err != nil {
			http.Error(w, "asynq: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	ln, err := net.Listen("tcp", os.Getenv("LISTEN_ADDR"))
	if err != nil {
		return fail(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); _ = hs.Close() }()
	if err := hs.Serve(ln); err != nil && err != http.ErrServerClosed {
		return fail(err)
	}
	return 0
}

// asynqIdle waits until asynq's default queue holds no pending or active
// task (every update handled), at most timeout.
func asynqIdle(ctx context.Context, url string, timeout time.Duration) error {
	opt, err := asynq.ParseRedisURI(url)
	if err != nil {
		return err
	}
	in := asynq.NewInspector(opt)
	defer in.Close()
	for end := time.Now().Add(timeout); time.Now().Before(end) && ctx.Err() == nil; time.Sleep(20 * time.Millisecond) {
		if q, err := in.GetQueueInfo("default"); err == nil && q.Pending == 0 && q.Active == 0 {
			return nil
		}
	}
	return fmt.Errorf("asynq's queue did not empty within %s", timeout)
}
