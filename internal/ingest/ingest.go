// Package ingest is the webhook: it takes Telegram's POSTs and puts each
// update durably on its shard's Redis stream.
//
// Guarantees (CONTRACT §3):
//   - 200 only after the update is in Redis (the Lua append returned), or
//     when it repeats an update_id seen within DEDUPE_WINDOW;
//   - 401 for a missing or wrong secret (compared in constant time), 405 for
//     other methods, 413 for a body over 1 MiB, 400 only for a body that is
//     not an Update: not a JSON object with an integer update_id ≥ 0 (0
//     included); 503 when Redis is unavailable, the shard's backlog is full,
//     the instance is shutting down, or REDIS_WAIT_REPLICAS replicas did not
//     acknowledge the append in time (REPLICAS_UNAVAILABLE: the entry is
//     appended and logged QUEUE_ENQUEUE first, and will be dispatched; the
//     503 only asks Telegram to resend);
//   - any other body is taken, whatever else it holds, known to telego or
//     not: ingest reads only the update's id, type, chat and user
//     (update.Scan, no decoding) and queues the body byte for byte;
//   - every refusal logs WEBHOOK_REJECTED with its reason code, and nothing
//     refused is enqueued.
//
// Any instance ingests, ACTIVE or PASSIVE: ingest never looks at leases.
package ingest

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// MaxBody is the largest webhook body accepted (1 MiB).
const MaxBody = 1 << 20

// SecretHeader carries the webhook secret set with setWebhook.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// EnqueueTimeout bounds the Redis call of one request; Telegram resends what
// is not answered 200. A healthy append takes about a millisecond (with
// REDIS_WAIT_REPLICAS at most REDIS_WAIT_TIMEOUT, 1s, more), so after 2s
// Redis counts as unavailable and the request is answered 503 rather than
// held: a load balancer in front (deploy/nginx.conf, 3s) then still gets
// this instance's own 503, not its timeout.
const EnqueueTimeout = 2 * time.Second

// Config of the webhook handler.
type Config struct {
	Queue    *queue.Queue
	Log      *telemetry.Logger
	Metrics  *metrics.Metrics
	Secret   string // empty: no secret checked (sandbox or INSECURE_WEBHOOK)
	Instance string
}

// Handler is the webhook http.Handler.
type Handler struct {
	cfg      Config
	secret   []byte
	stopping atomic.Bool
}

// New returns the webhook handler.
func New(cfg Config) *Handler {
	return &Handler{cfg: cfg, secret: []byte(cfg.Secret)}
}

// Stop makes every later request answer 503 (shutdown: stop intake).
func (h *Handler) Stop() { h.stopping.Store(true) }

func (h *Handler) reject(ctx context.Context, w http.ResponseWriter, status int, reason telemetry.Reason, text string) {
	h.cfg.Log.WebhookRejected(ctx, reason, status, text)
	h.cfg.Metrics.WebhookRejections.WithLabelValues(string(reason)).Inc()
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, text, status)
}

// logged logs what Enqueue did (DUPLICATE_UPDATE or QUEUE_ENQUEUE) and
// returns it in a few words (reason texts are kept short).
func (h *Handler) logged(ctx context.Context, env queue.Envelope, res queue.EnqueueResult, typ string, sent time.Time) string {
	if res.Duplicate {
		h.cfg.Log.DuplicateUpdate(ctx, env.Shard, res.OriginalCID)
		h.cfg.Metrics.Duplicates.Inc()
		if res.OriginalCID == "" {
			return "duplicate"
		}
		return "duplicate of " + res.OriginalCID
	}
	h.cfg.Log.QueueEnqueueAt(ctx, sent, typ, env.Shard, res.Depth, res.ID)
	h.cfg.Metrics.UpdatesEnqueued.WithLabelValues(typ).Inc()
	return "appended, will be dispatched"
}

// ServeHTTP answers one webhook request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(ctx, w, http.StatusMethodNotAllowed, telemetry.ReasonMethodNotAllowed, "method not allowed: use POST")
		return
	}
	if len(h.secret) > 0 {
		got := []byte(r.Header.Get(SecretHeader))
		if subtle.ConstantTimeCompare(got, h.secret) != 1 {
			h.reject(ctx, w, http.StatusUnauthorized, telemetry.ReasonUnauthorized, "missing or wrong secret token")
			return
		}
	}
	if h.stopping.Load() {
		h.reject(ctx, w, http.StatusServiceUnavailable, telemetry.ReasonShuttingDown, "shutting down")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.reject(ctx, w, http.StatusRequestEntityTooLarge, telemetry.ReasonPayloadTooLarge, "body over 1 MiB")
			return
		}
		h.reject(ctx, w, http.StatusBadRequest, telemetry.ReasonBadPayload, "body could not be read")
		return
	}
	info, err := update.Scan(body)
	if err != nil {
		why := strings.TrimPrefix(err.Error(), update.ErrNotUpdate.Error()+": ")
		h.reject(ctx, w, http.StatusBadRequest, telemetry.ReasonBadPayload, "body is not an Update: "+why)
		return
	}
	typ, chat, user := info.Type, info.ChatID, info.UserID
	env := queue.Envelope{
		CID: telemetry.NewCID(), UpdateID: info.UpdateID, Type: typ, ChatID: chat, UserID: user,
		Payload: body, Ingest: h.cfg.Instance,
	}
	env.Shard = h.cfg.Queue.ShardOf(typ, chat, user, env.UpdateID)
	ctx = telemetry.WithUpdate(ctx, telemetry.Update{CID: env.CID, UpdateID: env.UpdateID, Type: typ,
		UserID: user, ChatID: chat, Shard: env.Shard})

	qctx, cancel := context.WithTimeout(ctx, EnqueueTimeout)
	sent := time.Now()
	res, err := h.cfg.Queue.Enqueue(qctx, env)
	cancel()
	switch {
	case errors.Is(err, queue.ErrBacklogFull):
		h.reject(ctx, w, http.StatusServiceUnavailable, telemetry.ReasonBacklogFull,
			"backlog of shard "+strconv.Itoa(env.Shard)+" is full")
		return
	case errors.Is(err, queue.ErrNotReplicated):
		// Redis did what the result says; only the replicas are missing:
		// log that first, so the chain reads true, then ask for a resend
		var nr *queue.NotReplicatedError
		errors.As(err, &nr)
		h.reject(ctx, w, http.StatusServiceUnavailable, telemetry.ReasonReplicasUnavailable,
			fmt.Sprintf("%s; %d of %d replicas acked in %s", h.logged(ctx, env, res, typ, sent), nr.Acked, nr.Want, nr.Within))
		return
	case err != nil:
		h.reject(ctx, w, http.StatusServiceUnavailable, telemetry.ReasonRedisUnavailable, err.Error())
		return
	}
	h.logged(ctx, env, res, typ, sent)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"ok":true,"cid":"`+env.CID+`"}`)
}
