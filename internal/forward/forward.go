// Package forward is forward mode's handler (CONTRACT §7): the worker hands
// it each update of a shard this instance leads, in per-chat order and one
// at a time per chat, and it POSTs the update's original JSON to the
// upstream bot (UPSTREAM_URL) as Telegram would, with the upstream's secret
// and the X-Dispatcher-* headers.
//
// What it guarantees:
//   - A 2xx answer ends the update (DISPATCH_OK). When its body is a JSON
//     object with a "method" field (Telegram's webhook reply), that call is
//     made through the Bot API proxy (fenced, limited, logged) before the
//     handler returns, so before the update is acknowledged. A reply
//     Telegram refuses with a 4xx (an unknown method, bad parameters) is
//     logged (TELEGRAM_API_ERROR, BOT_API_CALL) and the update still ends, as
//     Telegram itself ignores a failed webhook reply; a reply refused by the
//     fence fails the dispatch with FENCED, one that met a 5xx, a 429 past the
//     retries or an unreachable Telegram fails it with TELEGRAM_5XX /
//     TELEGRAM_429 / TELEGRAM_NETWORK, and the update is delivered again.
//   - Any other status fails the dispatch with error_type UPSTREAM_STATUS, a
//     connection error (refused, reset, not HTTP) with UPSTREAM_UNREACHABLE,
//     and UPSTREAM_TIMEOUT passing with HANDLER_TIMEOUT: the worker retries
//     and dead-letters it like any failed handler. Nothing is lost.
//   - A callback_query the bot has not answered (through the proxy or in its
//     webhook reply) UPSTREAM_SILENCE_AFTER after its delivery began is
//     answered by the dispatcher, with no text, and SILENCE_WARNING is logged
//     — if this instance still leads the callback's shard.
//   - Status tells whether the upstream answers HTTP at all (for /readyz):
//     every delivery and a probe every ProbeEvery update it.
//
// What it does not: deliver updates of one chat concurrently (the worker
// orders them), or know what the bot does outside the proxy.
package forward

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/botproxy"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/update"
	"github.com/dispatcher-bot/dispatcher/internal/worker"
)

// ErrConfig is wrapped by every error New returns for a bad Config.
var ErrConfig = errors.New("forward: bad config")

// Headers of a delivery besides Telegram's secret header.
const (
	HeaderSecret   = "X-Telegram-Bot-Api-Secret-Token"
	HeaderCID      = "X-Dispatcher-Cid"
	HeaderShard    = "X-Dispatcher-Shard"
	HeaderToken    = "X-Dispatcher-Token"
	HeaderDelivery = "X-Dispatcher-Delivery"
)

// Defaults.
const (
	DefaultTimeout      = 25 * time.Second
	DefaultSilenceAfter = 5 * time.Second
	ProbeEvery          = 2 * time.Second
	// maxReply bounds the upstream's answer the forwarder reads.
	maxReply = 1 << 20
)

// Caller makes a Bot API call through the proxy: *botproxy.Proxy.
type Caller interface {
	Call(ctx context.Context, method string, params []byte) (status int, body []byte)
}

// Config of a Forwarder. URL, Tracker, Caller, Leadership and Log are
// required.
type Config struct {
	URL    string // UPSTREAM_URL
	Secret string // UPSTREAM_SECRET; never logged
	// Timeout (UPSTREAM_TIMEOUT) is one delivery's deadline.
	Timeout time.Duration
	// SilenceAfter (UPSTREAM_SILENCE_AFTER): an unanswered delivered
	// callback is answered by then.
	SilenceAfter time.Duration
	Tracker      *Tracker
	Caller       Caller
	Leadership   botproxy.Leadership
	Log          *telemetry.Logger
	// HTTP is the client for the upstream. Default: a client of its own.
	HTTP *http.Client
}

// Forwarder is the worker.Handler of forward mode. Run it (probe and
// pruning) and Close it (the silence timers) with the instance.
type Forwarder struct {
	cfg Config
	up  atomic.Bool

	base   context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	timers map[*time.Timer]struct{}
	wg     sync.WaitGroup
}

var _ worker.Handler = (*Forwarder)(nil)

// New returns a Forwarder.
func New(cfg Config) (*Forwarder, error) {
	switch {
	case cfg.URL == "":
		return nil, fmt.Errorf("%w: URL: required", ErrConfig)
	case cfg.Tracker == nil:
		return nil, fmt.Errorf("%w: Tracker: required", ErrConfig)
	case cfg.Caller == nil:
		return nil, fmt.Errorf("%w: Caller: required", ErrConfig)
	case cfg.Leadership == nil:
		return nil, fmt.Errorf("%w: Leadership: required", ErrConfig)
	case cfg.Log == nil:
		return nil, fmt.Errorf("%w: Log: required", ErrConfig)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.SilenceAfter <= 0 {
		cfg.SilenceAfter = DefaultSilenceAfter
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}
	}
	f := &Forwarder{cfg: cfg, timers: map[*time.Timer]struct{}{}}
	f.base, f.cancel = context.WithCancel(context.Background())
	return f, nil
}

// Error is a failed delivery; Type is its error_type (worker.ErrorTyper).
type Error struct {
	Type telemetry.ErrorType
	Text string
	Err  error // the cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Text + ": " + e.Err.Error()
	}
	return e.Text
}

// ErrorType implements worker.ErrorTyper.
func (e *Error) ErrorType() string { return string(e.Type) }

func (e *Error) Unwrap() error { return e.Err }

// Handle delivers one update to the upstream (worker.Handler).
func (f *Forwarder) Handle(ctx context.Context, u *update.Update) error {
	id, _ := telemetry.UpdateFrom(ctx)
	fence, _ := lease.FenceFrom(ctx)
	chat := u.ChatID
	if chat == 0 {
		chat = u.UserID
	}
	var callback, query string
	switch {
	case u.Telego.CallbackQuery != nil:
		callback, query = u.Telego.CallbackQuery.ID, u.Telego.CallbackQuery.ID
	case u.Telego.InlineQuery != nil:
		query = u.Telego.InlineQuery.ID
	}
	e := f.cfg.Tracker.begin(botproxy.Delivery{Update: id, Token: fence.Token}, chat, query)
	defer f.cfg.Tracker.end(e)
	if callback != "" && !f.cfg.Tracker.answered(e) {
		f.guard(e, id, callback)
	}

	reply, err := f.deliver(ctx, u, id, fence.Token)
	if err != nil {
		return err
	}
	return f.reply(ctx, reply)
}

// deliver POSTs the update and returns the upstream's 2xx body.
func (f *Forwarder) deliver(ctx context.Context, u *update.Update, id telemetry.Update, token int64) ([]byte, error) {
	dctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(dctx, http.MethodPost, f.cfg.URL, bytes.NewReader(u.Raw))
	if err != nil {
		return nil, &Error{Type: telemetry.ErrTypeUpstreamUnreachable, Text: "build the delivery", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if f.cfg.Secret != "" {
		req.Header.Set(HeaderSecret, f.cfg.Secret)
	}
	req.Header.Set(HeaderCID, id.CID)
	req.Header.Set(HeaderShard, strconv.Itoa(id.Shard))
	req.Header.Set(HeaderToken, strconv.FormatInt(token, 10))
	req.Header.Set(HeaderDelivery, strconv.FormatInt(max(worker.DeliveryFrom(ctx), 1), 10))
	res, err := f.cfg.HTTP.Do(req)
	if err != nil {
		return nil, f.failed(ctx, dctx, "deliver to UPSTREAM_URL", err)
	}
	defer func() { _ = res.Body.Close() }()
	f.up.Store(true)
	body, err := io.ReadAll(io.LimitReader(res.Body, maxReply))
	if err != nil {
		return nil, f.failed(ctx, dctx, "read the upstream's answer", err)
	}
	if res.StatusCode/100 != 2 {
		return nil, &Error{Type: telemetry.ErrTypeUpstreamStatus,
			Text: fmt.Sprintf("upstream answered %d: %s", res.StatusCode, telemetry.Shorten(string(bytes.TrimSpace(body))))}
	}
	return body, nil
}

// failed names a transport failure: the dispatch's end (cancelled), the
// delivery's deadline (HANDLER_TIMEOUT) or an unreachable upstream.
func (f *Forwarder) failed(ctx, dctx context.Context, what string, err error) error {
	switch {
	case ctx.Err() != nil:
		return errors.Join(err, context.Cause(ctx))
	case errors.Is(dctx.Err(), context.DeadlineExceeded):
		return &Error{Type: telemetry.ErrTypeTimeout,
			Text: fmt.Sprintf("the upstream did not answer within UPSTREAM_TIMEOUT %s", f.cfg.Timeout)}
	}
	f.up.Store(false)
	return &Error{Type: telemetry.ErrTypeUpstreamUnreachable, Text: what, Err: err}
}

// reply executes a webhook reply, if body is one.
func (f *Forwarder) reply(ctx context.Context, body []byte) error {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil // no reply (empty, "ok", HTML...): Telegram ignores it too
	}
	var method string
	if raw, ok := m["method"]; !ok || json.Unmarshal(raw, &method) != nil || method == "" {
		return nil
	}
	delete(m, "method")
	params, _ := json.Marshal(m)
	status, answer := f.cfg.Caller.Call(ctx, method, params)
	switch {
	case status/100 == 2:
		return nil
	case status == http.StatusConflict:
		return &Error{Type: telemetry.ErrTypeFenced, Text: "webhook reply " + method + " refused: this instance no longer leads the chat's shard"}
	case status == http.StatusTooManyRequests:
		return &Error{Type: telemetry.ErrTypeTelegram429, Text: "webhook reply " + method + ": " + telemetry.Shorten(string(answer))}
	case status == http.StatusBadGateway:
		return &Error{Type: telemetry.ErrTypeTelegramNetwork, Text: "webhook reply " + method + ": Telegram unreachable"}
	case status >= 500:
		return &Error{Type: telemetry.ErrTypeTelegram5xx, Text: "webhook reply " + method + ": " + telemetry.Shorten(string(answer))}
	}
	return nil // refused by Telegram (logged by the proxy): as Telegram, not retried
}

// Status is "ok" when the upstream answered HTTP on the last delivery or
// probe, else "unreachable".
func (f *Forwarder) Status() string {
	if f.up.Load() {
		return "ok"
	}
	return "unreachable"
}

// Run probes the upstream every ProbeEvery (any HTTP answer is "ok") and
// prunes the tracker, until ctx ends; then it stops the silence timers.
func (f *Forwarder) Run(ctx context.Context) error {
	defer f.Close()
	t := time.NewTicker(ProbeEvery)
	defer t.Stop()
	for {
		f.probe(ctx)
		f.cfg.Tracker.Prune()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (f *Forwarder) probe(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, min(ProbeEvery, f.cfg.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.cfg.URL, nil)
	if err != nil {
		return
	}
	res, err := f.cfg.HTTP.Do(req)
	if err != nil {
		if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			f.up.Store(false)
		}
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
	f.up.Store(true)
}

// Close stops the silence timers and waits for a guard's answer in flight.
func (f *Forwarder) Close() {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		f.cancel()
		for t := range f.timers {
			if t.Stop() {
				f.wg.Done()
			}
		}
		f.timers = nil
	}
	f.mu.Unlock()
	f.wg.Wait()
	f.cfg.HTTP.CloseIdleConnections()
}
