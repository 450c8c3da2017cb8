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
//     refused is enqueued; a 503's body is that reason code alone (the
//     details, Redis's error text included, are only in the log line).
//
// Any instance ingests, ACTIVE or PASSIVE: ingest never looks at leases.
//
// Ingest is the path of every update into the streams, also of those the
// poller (package poll, INGEST=poll) takes from getUpdates: one reading of
// the update, one dedupe, one backlog rule and the same events for both.
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
	Queue *queue.Queue
	// Batcher, when set, carries the webhook's appends (group commit: the
	// appends of concurrent requests share one Redis round trip; see
	// queue.Batcher). Nil: one round trip per request. The poller's fenced
	// appends always go to Queue directly.
	Batcher  *queue.Batcher
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
	held     atomic.Pointer[hold] // set by Hold, cleared by Open
}

// hold is why requests are refused before Open.
type hold struct {
	reason telemetry.Reason
	text   string
}

// New returns the webhook handler.
func New(cfg Config) *Handler {
	return &Handler{cfg: cfg, secret: []byte(cfg.Secret)}
}

// Stop makes every later request answer 503 (shutdown: stop intake).
func (h *Handler) Stop() { h.stopping.Store(true) }

// Hold makes every request answer 503 with reason (text goes to the log)
// until Open: an instance holds its webhook until Redis answers
// (REDIS_UNAVAILABLE) and its start checks (the deployment's mode, the
// shard count, the registration) passed (STARTING), so that nothing it
// appends can sway them, and an instance they refuse has taken nothing.
// Telegram resends.
func (h *Handler) Hold(reason telemetry.Reason, text string) {
	h.held.Store(&hold{reason: reason, text: text})
}

// Open ends Hold.
func (h *Handler) Open() { h.held.Store(nil) }

// Held reports whether the handler is held (Hold without Open since).
func (h *Handler) Held() bool { return h.held.Load() != nil }

func (h *Handler) reject(ctx context.Context, w http.ResponseWriter, status int, reason telemetry.Reason, text string) {
	h.cfg.Log.WebhookRejected(ctx, reason, status, text)
	h.cfg.Metrics.WebhookRejections.WithLabelValues(string(reason)).Inc()
	if status == http.StatusServiceUnavailable {
		// Only the reason code: the text can hold Redis's error (addresses,
		// internal messages), which goes to the log, not to whoever posted.
		w.Header().Set("Retry-After", "1")
		text = string(reason)
	}
	http.Error(w, text, status)
}

// Source says where an update came from: the field source of QUEUE_ENQUEUE
// and DUPLICATE_UPDATE.
type Source string

// Sources of updates.
const (
	FromWebhook Source = "webhook" // a POST to WEBHOOK_PATH
	FromPoll    Source = "poll"    // getUpdates (INGEST=poll)
)

// ErrNotUpdate is returned by Ingest for a body that is not an Update; the
// error says why. Nothing was enqueued.
var ErrNotUpdate = errors.New("ingest: body is not an Update")

// Result is what Ingest did with one update.
type Result struct {
	// Update is the update's identity (cid made here, shard); empty when the
	// body was not an Update. Callers log their refusals under it.
	Update telemetry.Update
	// Duplicate: the update_id was seen within DEDUPE_WINDOW; nothing was
	// appended. OriginalCID is the first ingest's cid when known.
	Duplicate   bool
	OriginalCID string
	// Done says what happened, in a few words, for reason texts.
	Done string
}

// Ingest puts one update, body as Telegram sent it, on its shard's stream:
// the one path of every update into the dispatcher, for the webhook and the
// poller alike. It reads the update's id, type, chat and user (update.Scan,
// no decoding), makes its cid, picks the shard, and
// appends it in one Lua call (dedupe, backlog, append; for the webhook with
// a Batcher, that call shares its round trip with concurrent requests'); then it logs
// QUEUE_ENQUEUE or DUPLICATE_UPDATE (with source=poll for the poller) and
// counts it. pollToken is the poll lease's token for the poller (the append
// is fenced by it) and 0 for the webhook.
//
// Errors: ErrNotUpdate (nothing enqueued); queue.ErrBacklogFull (nothing
// enqueued); queue.ErrNotReplicated, after logging what the master did (the
// update is appended or a duplicate, not yet on enough replicas); one
// matching lease.ErrFenced for a stale poller (nothing enqueued); any other
// error wraps queue.ErrUnavailable (the append is unconfirmed). The Redis
// call is bounded by EnqueueTimeout.
func (h *Handler) Ingest(ctx context.Context, body []byte, src Source, pollToken int64) (Result, error) {
	info, err := update.Scan(body)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %s", ErrNotUpdate, strings.TrimPrefix(err.Error(), update.ErrNotUpdate.Error()+": "))
	}
	typ, chat, user := info.Type, info.ChatID, info.UserID
	env := queue.Envelope{
		CID: telemetry.NewCID(), UpdateID: info.UpdateID, Type: typ, ChatID: chat, UserID: user,
		Payload: body, Ingest: h.cfg.Instance,
	}
	env.Shard = h.cfg.Queue.ShardOf(typ, chat, user, env.UpdateID)
	r := Result{Update: telemetry.Update{CID: env.CID, UpdateID: env.UpdateID, Type: typ,
		UserID: user, ChatID: chat, Shard: env.Shard}}
	ctx = telemetry.WithUpdate(ctx, r.Update)

	qctx, cancel := context.WithTimeout(ctx, EnqueueTimeout)
	sent := time.Now()
	var res queue.EnqueueResult
	if pollToken > 0 {
		res, err = h.cfg.Queue.EnqueuePolled(qctx, env, pollToken)
	} else if h.cfg.Batcher != nil {
		res, err = h.cfg.Batcher.Enqueue(qctx, env)
	} else {
		res, err = h.cfg.Queue.Enqueue(qctx, env)
	}
	cancel()
	if err != nil && !errors.Is(err, queue.ErrNotReplicated) {
		return r, err
	}
	// Redis did what the result says (with ErrNotReplicated, only the
	// replicas are missing): log that first, so the chain reads true
	r.Duplicate, r.OriginalCID = res.Duplicate, res.OriginalCID
	source := string(src) // the field source: poll; the webhook's lines go without it, as before polling
	if src == FromWebhook {
		source = ""
	}
	if res.Duplicate {
		h.cfg.Log.DuplicateUpdateFrom(ctx, source, env.Shard, res.OriginalCID)
		h.cfg.Metrics.Duplicates.Inc()
		r.Done = "duplicate"
		if res.OriginalCID != "" {
			r.Done = "duplicate of " + res.OriginalCID
		}
	} else {
		h.cfg.Log.QueueEnqueueFrom(ctx, sent, source, typ, env.Shard, res.Depth, res.ID)
		h.cfg.Metrics.UpdatesEnqueued.WithLabelValues(typ).Inc()
		r.Done = "appended, will be dispatched"
	}
	return r, err
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
	if held := h.held.Load(); held != nil {
		h.reject(ctx, w, http.StatusServiceUnavailable, held.reason, held.text)
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
	res, err := h.Ingest(ctx, body, FromWebhook, 0)
	if res.Update.CID != "" {
		ctx = telemetry.WithUpdate(ctx, res.Update)
	}
	switch {
	case errors.Is(err, ErrNotUpdate):
		h.reject(ctx, w, http.StatusBadRequest, telemetry.ReasonBadPayload,
			strings.Replace(err.Error(), "ingest: body is not an Update", "body is not an Update", 1))
		return
	case errors.Is(err, queue.ErrBacklogFull):
		h.reject(ctx, w, http.StatusServiceUnavailable, telemetry.ReasonBacklogFull,
			"backlog of shard "+strconv.Itoa(res.Update.Shard)+" is full")
		return
	case errors.Is(err, queue.ErrNotReplicated):
		var nr *queue.NotReplicatedError
		errors.As(err, &nr)
		h.reject(ctx, w, http.StatusServiceUnavailable, telemetry.ReasonReplicasUnavailable,
			fmt.Sprintf("%s; %d of %d replicas acked in %s", res.Done, nr.Acked, nr.Want, nr.Within))
		return
	case err != nil:
		h.reject(ctx, w, http.StatusServiceUnavailable, telemetry.ReasonRedisUnavailable, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"ok":true,"cid":"`+res.Update.CID+`"}`)
}
