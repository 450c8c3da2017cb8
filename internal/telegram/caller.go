package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	ta "github.com/mymmrac/telego/telegoapi"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// caller is the telego Caller: one HTTP POST per attempt, retries for 429,
// 5xx and transport failures, the limiter for message methods, metrics and
// TELEGRAM_API_ERROR events. It never lets the token out.
type caller struct {
	http     *http.Client
	redact   *strings.Replacer
	log      *telemetry.Logger
	metrics  *metrics.Metrics
	limiter  *Limiter
	maxWait  time.Duration // total time spent waiting between attempts
	backoff  time.Duration // first 5xx backoff, doubled per attempt
	attempts int           // attempts for 5xx and transport failures
}

// maxBody bounds a Bot API answer we read.
const maxBody = 8 << 20

// Call implements telegoapi.Caller.
func (c *caller) Call(ctx context.Context, url string, data *ta.RequestData) (*ta.Response, error) {
	method := url[strings.LastIndexByte(url, '/')+1:]
	// under the public API's dispatch context: refused at once, nothing
	// sent, once this instance no longer holds the update's shard
	if err := lease.CheckGate(ctx); err != nil {
		return nil, err
	}
	body := data.BodyRaw
	if body == nil && data.BodyStream != nil {
		b, err := io.ReadAll(data.BodyStream)
		if err != nil {
			return nil, c.fail(ctx, &APIError{Method: method, Description: "read request body: " + c.redact.Replace(err.Error())})
		}
		body = b
	}
	chat := chatKey(data.ContentType, body)
	if isMessageMethod(method) {
		if err := c.limiter.Wait(ctx, chat); err != nil {
			// the limiter's errors hold no URL: keep them for errors.Is
			e := &APIError{Method: method, Description: "rate limiter: " + err.Error(), cause: err}
			if d := limitWait(err); d > 0 {
				e.RetryAfter = int((d + time.Second - 1) / time.Second)
			}
			return nil, c.fail(ctx, e)
		}
	}
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		c.metrics.TelegramRequests.WithLabelValues(method).Inc()
		resp, apiErr := c.once(ctx, url, method, data.ContentType, body)
		if apiErr == nil {
			if method == "answerCallbackQuery" { // also answers made with Bot() directly
				answersFrom(ctx).settle(callbackQueryID(body), "", true)
			}
			return resp, nil
		}
		c.metrics.TelegramError(method, apiErr.Status, string(telemetry.TelegramErrorType(apiErr.Status)))
		if apiErr.cause != nil || !apiErr.Retryable() {
			return nil, c.fail(ctx, apiErr)
		}
		var delay time.Duration
		if apiErr.Status == http.StatusTooManyRequests {
			delay = apiErr.RetryDelay()
			// recorded whether or not this call waits it out: the next
			// call to the chat (to every chat when this one names none)
			// waits too, instead of lengthening the flood wait
			c.limiter.Pause(chat, delay)
		} else {
			// A callback query stays answerable for about 15 s and its user
			// watches a spinner until it is answered: an answer is retried
			// for as long as the wait budget and the deadline allow, not
			// just RetryAttempts times.
			if attempt >= c.attempts && method != "answerCallbackQuery" {
				return nil, c.fail(ctx, apiErr)
			}
			delay = c.backoff << min(attempt-1, 16)
		}
		if waited+delay > c.maxWait || !fits(ctx, delay) {
			return nil, c.fail(ctx, apiErr)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			apiErr.cause = ctx.Err()
			return nil, c.fail(ctx, apiErr)
		}
		waited += delay
	}
}

// once makes one attempt. A nil *APIError means Telegram answered ok.
func (c *caller) once(ctx context.Context, url, method, contentType string, body []byte) (*ta.Response, *APIError) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, &APIError{Method: method, Description: c.redact.Replace(err.Error())}
	}
	req.Header.Set(ta.ContentTypeHeader, contentType)
	res, err := c.http.Do(req)
	if err != nil {
		return nil, &APIError{Method: method, Description: c.redact.Replace(err.Error()), cause: ctxCause(ctx, err)}
	}
	defer func() { _ = res.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, &APIError{Method: method, Status: 0, Description: "read answer: " + c.redact.Replace(err.Error()),
			cause: ctxCause(ctx, err)}
	}
	resp := &ta.Response{}
	if err := json.Unmarshal(raw, resp); err != nil {
		desc := "answer is not JSON"
		if res.StatusCode == http.StatusOK {
			res.StatusCode = http.StatusBadGateway // a 200 we cannot read is the server's fault
		}
		return nil, &APIError{Method: method, Status: res.StatusCode, Description: desc}
	}
	if resp.Ok && res.StatusCode == http.StatusOK {
		return resp, nil
	}
	e := &APIError{Method: method, Status: res.StatusCode, Description: http.StatusText(res.StatusCode)}
	if resp.Error != nil {
		if resp.ErrorCode != 0 {
			e.Status = resp.ErrorCode
		}
		if resp.Description != "" {
			e.Description = c.redact.Replace(resp.Description)
		}
		if resp.Parameters != nil {
			e.RetryAfter = resp.Parameters.RetryAfter
		}
	}
	if e.Status == http.StatusOK {
		e.Status = http.StatusBadGateway
	}
	return nil, e
}

// fail records a call that ends with e and returns it. An edit that
// changes nothing is not logged: Client.Edit treats it as done.
func (c *caller) fail(ctx context.Context, e *APIError) error {
	if !IsNotModified(e) && !(quietOnCancel(ctx) && errors.Is(e, context.Canceled)) {
		c.log.TelegramAPIError(ctx, e.Method, e.Status, e.RetryAfter, e)
	}
	return e
}

// fits reports whether waiting d leaves the context's deadline ahead.
func fits(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d
}

// ctxCause returns ctx's error when ctx is done, so errors.Is sees a
// deadline or a cancellation; err alone is never kept (it may hold the URL).
func ctxCause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	if errors.Is(err, context.Canceled) {
		return context.Canceled
	}
	return nil
}

// isMessageMethod reports whether method sends or changes a message, the
// calls Telegram's rate limits count.
func isMessageMethod(m string) bool {
	if m == "sendChatAction" {
		return false
	}
	return strings.HasPrefix(m, "send") || strings.HasPrefix(m, "edit") ||
		strings.HasPrefix(m, "copyMessage") || strings.HasPrefix(m, "forwardMessage")
}

// chatKey returns the chat_id of a JSON request as text ("" if none): the
// limiter's key for the call.
func chatKey(contentType string, body []byte) string {
	if !strings.HasPrefix(contentType, ta.ContentTypeJSON) {
		return ""
	}
	var p struct {
		ChatID json.RawMessage `json:"chat_id"`
	}
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	return string(p.ChatID)
}

func callbackQueryID(body []byte) string {
	var p struct {
		ID string `json:"callback_query_id"`
	}
	_ = json.Unmarshal(body, &p)
	return p.ID
}
