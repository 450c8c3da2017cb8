package botproxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// response is what the bot gets.
type response struct {
	status int
	header http.Header
	body   []byte
}

func jsonResponse(status int, body string) response {
	return response{status: status, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(body)}
}

// maxAnswer bounds an answer of Telegram's the proxy reads (results are
// small; file downloads are streamed by serveFile).
const maxAnswer = 32 << 20

// do fences, limits, forwards (with 429 retries) and logs one call.
func (p *Proxy) do(ctx context.Context, c *call, start time.Time) response {
	d, known := p.delivery(c)
	evCtx := ctx
	if known {
		evCtx = telemetry.WithUpdate(ctx, d.Update)
	}
	if !p.leads(c, d, known) {
		p.cfg.Log.UpdateRejected(evCtx, telemetry.ReasonPassiveReject, "Instance not ACTIVE")
		p.cfg.Log.BotAPICall(evCtx, c.method, http.StatusConflict, time.Since(start))
		return jsonResponse(http.StatusConflict, BodyConflict)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.CallTimeout)
	defer cancel()
	res := p.forward(ctx, evCtx, c)
	p.cfg.Log.BotAPICall(evCtx, c.method, res.status, time.Since(start))
	if res.status/100 == 2 {
		p.observe(evCtx, c)
	}
	return res
}

// delivery returns the update behind the call: its query's, else its
// chat's latest.
func (p *Proxy) delivery(c *call) (Delivery, bool) {
	if c.queryID != "" {
		if d, ok := p.cfg.Deliveries.ForQuery(c.queryID); ok {
			return d, true
		}
	}
	if chat, ok := chatID(c.chat); ok {
		return p.cfg.Deliveries.ForChat(chat)
	}
	return Delivery{}, false
}

// leads reports whether the call may go: it names no chat and no query
// this instance delivered, or this instance leads their shard (under the
// delivery's own token while that delivery runs).
func (p *Proxy) leads(c *call, d Delivery, known bool) bool {
	if known && d.Running {
		return p.cfg.Leadership.Valid(d.Update.Shard, d.Token)
	}
	if known {
		_, err := p.cfg.Leadership.Token(d.Update.Shard)
		return err == nil
	}
	chat, ok := chatID(c.chat)
	if !ok {
		return true // names no chat (or a @username): passes through
	}
	_, err := p.cfg.Leadership.Token(p.cfg.ShardOf(chat))
	return err == nil
}

// observe logs what a successful call showed the user.
func (p *Proxy) observe(ctx context.Context, c *call) {
	switch {
	case c.method == "answerCallbackQuery":
		p.cfg.Deliveries.Answered(c.queryID)
		p.cfg.Log.AnswerCallbackQuery(ctx, c.text)
	case isMessageMethod(c.method):
		if b := buttons(c.replyMarkup); len(b) > 0 {
			ids := make([]telemetry.ButtonID, len(b))
			for i, s := range b {
				ids[i] = telemetry.ButtonID(s)
			}
			p.cfg.Log.UIRender(ctx, telemetry.ScreenID(c.method), ids)
		}
	}
}

// isMessageMethod: the methods the limiter holds back, as internal/telegram
// counts them.
func isMessageMethod(m string) bool {
	if m == "sendChatAction" {
		return false
	}
	return strings.HasPrefix(m, "send") || strings.HasPrefix(m, "edit") ||
		strings.HasPrefix(m, "copyMessage") || strings.HasPrefix(m, "forwardMessage")
}

// forward sends the call to Telegram, waiting for the limiter first and
// retrying a 429 within MaxRetryWait.
func (p *Proxy) forward(ctx, evCtx context.Context, c *call) response {
	chatKey := c.chat
	if isMessageMethod(c.method) && p.cfg.Limiter != nil {
		if err := p.cfg.Limiter.Wait(ctx, chatKey); err != nil {
			p.cfg.Log.TelegramAPIError(evCtx, c.method, http.StatusTooManyRequests, 1, err)
			return jsonResponse(http.StatusTooManyRequests,
				`{"ok":false,"error_code":429,"description":"Too Many Requests: the dispatcher's rate limiter","parameters":{"retry_after":1}}`)
		}
	}
	u := p.cfg.APIURL + "/bot" + p.cfg.Token + "/" + c.method
	if c.rawQuery != "" {
		u += "?" + c.rawQuery
	}
	var waited time.Duration
	for {
		res, err := p.once(ctx, u, c)
		if err != nil {
			p.cfg.Log.TelegramAPIError(evCtx, c.method, 0, 0, p.redact(err))
			return jsonResponse(http.StatusBadGateway, bodyBadGateway)
		}
		if res.status != http.StatusTooManyRequests {
			if res.status/100 != 2 {
				p.cfg.Log.TelegramAPIError(evCtx, c.method, res.status, 0, apiError(res.body))
			}
			return res
		}
		ra := retryAfter(res.body)
		delay := time.Duration(max(ra, 1)) * time.Second
		if p.cfg.Limiter != nil {
			p.cfg.Limiter.Pause(chatKey, delay)
		}
		p.cfg.Log.TelegramAPIError(evCtx, c.method, res.status, ra, apiError(res.body))
		if waited+delay > p.cfg.MaxRetryWait {
			return res // the bot gets Telegram's 429 and its retry_after
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return res
		}
		waited += delay
	}
}

// once makes one attempt.
func (p *Proxy) once(ctx context.Context, u string, c *call) (response, error) {
	body, size, err := c.bodyReader()
	if err != nil {
		return response{}, err
	}
	method := c.httpMethod
	if method != http.MethodGet {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", c.contentType)
	}
	res, err := p.cfg.HTTP.Do(req)
	if err != nil {
		return response{}, err
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return response{}, err
	}
	h := http.Header{}
	copyHeader(h, res.Header)
	h.Del("Content-Length")
	return response{status: res.StatusCode, header: h, body: b}, nil
}

// tgAnswer is the part of Telegram's error answer the proxy reads.
type tgAnswer struct {
	Description string `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

func retryAfter(body []byte) int {
	var a tgAnswer
	_ = json.Unmarshal(body, &a)
	return a.Parameters.RetryAfter
}

// apiError is Telegram's description as an error, for TELEGRAM_API_ERROR.
type apiErr string

func (e apiErr) Error() string { return string(e) }

func apiError(body []byte) error {
	var a tgAnswer
	if json.Unmarshal(body, &a) != nil || a.Description == "" {
		return apiErr("answer: " + strconv.Quote(telemetry.Shorten(string(body))))
	}
	return apiErr(a.Description)
}
