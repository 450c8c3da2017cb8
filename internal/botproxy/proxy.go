package botproxy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// ErrConfig is wrapped by every error New returns for a bad Config.
var ErrConfig = errors.New("botproxy: bad config")

// Bodies of the proxy's own answers, in Telegram's error shape.
const (
	BodyUnauthorized = `{"ok":false,"error_code":401,"description":"Unauthorized"}`
	BodyConflict     = `{"ok":false,"error_code":409,"description":"Conflict: this dispatcher instance is not ACTIVE for the chat"}`
	bodyBadGateway   = `{"ok":false,"error_code":502,"description":"Bad Gateway: the dispatcher could not reach the Bot API"}`
	bodyTooLarge     = `{"ok":false,"error_code":413,"description":"Request Entity Too Large"}`
	bodyBadRequest   = `{"ok":false,"error_code":400,"description":"Bad Request: the dispatcher could not read the request body"}`
)

// Defaults of the optional Config fields.
const (
	DefaultMaxBody      = 16 << 20
	DefaultMaxRetryWait = 10 * time.Second
	DefaultCallTimeout  = 60 * time.Second
)

// Delivery is what the forwarder tells about an update it is delivering (or
// delivered) for a chat or a query: its identity for the events, and the
// shard and fencing token it was delivered under.
type Delivery struct {
	Update telemetry.Update
	Token  int64
	// Running: the delivery has not ended yet; calls are then fenced by
	// its own token, not only by the shard.
	Running bool
}

// Deliveries is the forwarder's record of what this instance delivered.
type Deliveries interface {
	// ForChat returns the latest delivery to the chat.
	ForChat(chatID int64) (Delivery, bool)
	// ForQuery returns the delivery of the callback or inline query id.
	ForQuery(id string) (Delivery, bool)
	// Answered records that callback query id was answered.
	Answered(id string)
}

// Leadership tells whether this instance leads a shard: Valid under a given
// token, Token the one it holds now (an error when none). lease.Manager is one.
type Leadership interface {
	Valid(shard int, token int64) bool
	Token(shard int) (int64, error)
}

// Config of a Proxy. Token, APIURL, Log, Deliveries, Leadership and ShardOf
// are required.
type Config struct {
	Token  string // BOT_TOKEN; never logged
	APIURL string // TELEGRAM_API_URL, without /bot
	Log    *telemetry.Logger
	// Deliveries names the update behind a call (cid, shard, token).
	Deliveries Deliveries
	Leadership Leadership
	// ShardOf is the shard of a chat (queue.ShardOf with the chat alone).
	ShardOf func(chatID int64) int
	// Limiter is the Bot API rate limiter (nil: no limits).
	Limiter *telegram.Limiter
	// HTTP is the client for Telegram. Default: one without a timeout
	// (each call is bounded by CallTimeout).
	HTTP *http.Client
	// MaxBody bounds a JSON or form body (multipart bodies go to a
	// temporary file and are bounded by MaxUpload). Default DefaultMaxBody.
	MaxBody int64
	// MaxUpload bounds a multipart body. Default: 50 MiB, Telegram's own
	// limit for uploads.
	MaxUpload int64
	// TempDir holds multipart bodies while they are read ("": os.TempDir).
	TempDir string
	// MaxRetryWait bounds the total wait for 429 retries of one call.
	MaxRetryWait time.Duration
	// CallTimeout bounds one call, retries and limiter waits included.
	CallTimeout time.Duration
}

// Proxy is the Bot API proxy. It is an http.Handler for the paths Match
// accepts.
type Proxy struct {
	cfg   Config
	token [32]byte
}

// New returns a Proxy.
func New(cfg Config) (*Proxy, error) {
	switch {
	case cfg.Token == "":
		return nil, fmt.Errorf("%w: Token: required", ErrConfig)
	case cfg.APIURL == "":
		return nil, fmt.Errorf("%w: APIURL: required", ErrConfig)
	case cfg.Log == nil:
		return nil, fmt.Errorf("%w: Log: required", ErrConfig)
	case cfg.Deliveries == nil:
		return nil, fmt.Errorf("%w: Deliveries: required", ErrConfig)
	case cfg.Leadership == nil:
		return nil, fmt.Errorf("%w: Leadership: required", ErrConfig)
	case cfg.ShardOf == nil:
		return nil, fmt.Errorf("%w: ShardOf: required", ErrConfig)
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{}
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 50 << 20
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = DefaultMaxRetryWait
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	return &Proxy{cfg: cfg, token: sha256.Sum256([]byte(cfg.Token))}, nil
}

// Match reports whether path is the proxy's: /bot<TOKEN>/<method> or
// /file/bot<TOKEN>/<path>.
func Match(path string) bool {
	return strings.HasPrefix(path, "/bot") || strings.HasPrefix(path, "/file/bot")
}

// tokenOK compares a token from a path with BOT_TOKEN in constant time
// (over their hashes, so that the length does not leak either).
func (p *Proxy) tokenOK(tok string) bool {
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], p.token[:]) == 1
}

// ServeHTTP serves /bot<TOKEN>/<method> and /file/bot<TOKEN>/<path>.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	file := strings.HasPrefix(r.URL.Path, "/file/bot")
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/file"), "/bot")
	tok, tail, ok := strings.Cut(rest, "/")
	method := tail
	if file {
		method = "file"
	}
	if !ok || tail == "" || !p.tokenOK(tok) {
		status, body := http.StatusUnauthorized, BodyUnauthorized
		if ok && tail == "" && p.tokenOK(tok) {
			status, body = http.StatusNotFound, `{"ok":false,"error_code":404,"description":"Not Found: method not specified"}`
		}
		writeJSON(w, status, body)
		p.cfg.Log.BotAPICall(r.Context(), method, status, time.Since(start))
		return
	}
	if file {
		p.serveFile(w, r, tail, start)
		return
	}
	c, status, body := p.readCall(r, tail)
	if c == nil {
		writeJSON(w, status, body)
		p.cfg.Log.BotAPICall(r.Context(), method, status, time.Since(start))
		return
	}
	defer c.close()
	res := p.do(r.Context(), c, start)
	for k, v := range res.header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body)
}

// serveFile streams a file download through unchanged (no fence: a file
// names no chat).
func (p *Proxy) serveFile(w http.ResponseWriter, r *http.Request, path string, start time.Time) {
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.CallTimeout)
	defer cancel()
	u := p.cfg.APIURL + "/file/bot" + p.cfg.Token + "/" + path
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, nil)
	if err == nil {
		var res *http.Response
		if res, err = p.cfg.HTTP.Do(req); err == nil {
			defer func() { _ = res.Body.Close() }()
			copyHeader(w.Header(), res.Header)
			w.WriteHeader(res.StatusCode)
			_, _ = io.Copy(w, res.Body)
			p.cfg.Log.BotAPICall(r.Context(), "file", res.StatusCode, time.Since(start))
			return
		}
	}
	writeJSON(w, http.StatusBadGateway, bodyBadGateway)
	p.cfg.Log.TelegramAPIError(r.Context(), "file", 0, 0, p.redact(err))
	p.cfg.Log.BotAPICall(r.Context(), "file", http.StatusBadGateway, time.Since(start))
}

// Call makes one Bot API call on the forwarder's behalf (a webhook reply,
// the silence guard's answer), params a JSON object, through the same fence,
// limits, retries and events as a call of the bot's. It returns Telegram's
// status and body.
func (p *Proxy) Call(ctx context.Context, method string, params []byte) (int, []byte) {
	c := &call{method: method, httpMethod: http.MethodPost, contentType: "application/json", body: params, query: url.Values{}}
	if err := c.parseJSON(params); err != nil {
		return http.StatusBadRequest, []byte(`{"ok":false,"error_code":400,"description":"Bad Request: the webhook reply is not a JSON object"}`)
	}
	res := p.do(ctx, c, time.Now())
	return res.status, res.body
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// copyHeader copies the headers of Telegram's answer the bot may read.
func copyHeader(dst, src http.Header) {
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Disposition", "Last-Modified", "Cache-Control", "Retry-After"} {
		if v := src.Values(k); len(v) > 0 {
			dst[k] = v
		}
	}
}

// redact keeps the token out of an error's text (a URL in a transport
// error names it).
func (p *Proxy) redact(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(strings.ReplaceAll(err.Error(), p.cfg.Token, "<token>"))
}

// chatID parses a chat_id: a number, or "" / "@username" (0, false).
func chatID(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n, err == nil && n != 0
}
