package telegram

import (
	"context"
	"encoding/json"
	"errors"

	ta "github.com/mymmrac/telego/telegoapi"
)

// Call makes one Bot API call, params encoded as JSON, and returns
// Telegram's result as it came (raw JSON), for callers that must not decode
// it (the poller keeps each update byte for byte). It goes through the
// client's caller: retries as configured, redaction, metrics and
// TELEGRAM_API_ERROR, except for a call ended by the cancellation of ctx,
// which is not an API error but the caller stopping it (a long poll at
// shutdown). Errors are *APIError.
func (c *Client) Call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	body, err := json.Marshal(params)
	if err != nil {
		return nil, errors.Join(ErrConfig, err)
	}
	resp, err := c.caller.Call(context.WithValue(ctx, quietKey{}, true), c.base+"/"+method,
		&ta.RequestData{ContentType: ta.ContentTypeJSON, BodyRaw: body})
	if err != nil {
		return nil, err
	}
	return resp.Result, nil
}

type quietKey struct{}

// quietOnCancel reports a call made by Call, whose cancellation is not
// logged.
func quietOnCancel(ctx context.Context) bool { return ctx.Value(quietKey{}) != nil }
