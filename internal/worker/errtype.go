package worker

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// ErrorTyper is implemented by handler errors that name their own
// error_type (the router's recovered panics name HANDLER_PANIC). A name
// outside telemetry.ErrorTypes is not taken: such an error is classified
// like any other.
type ErrorTyper interface {
	error
	ErrorType() string
}

// classify names a handler's failure for DISPATCH_FAIL's error_type and
// dispatcher_dispatch_failures_total: always one of telemetry.ErrorTypes.
// The order matters: a Bot API or Redis call cut by the handler's deadline
// is HANDLER_TIMEOUT, one cut by a shutdown CANCELLED.
func classify(ctx, hctx context.Context, err error) string {
	var pe *panicError
	var typed ErrorTyper
	var apiErr *telegram.APIError
	var redisErr redis.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &pe):
		return errTypePanic
	case errors.As(err, &typed) && telemetry.ErrorType(typed.ErrorType()).Known():
		return typed.ErrorType()
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return errTypeCancelled
	case errors.Is(hctx.Err(), context.DeadlineExceeded) && errors.Is(err, context.DeadlineExceeded):
		return errTypeTimeout
	case errors.Is(err, lease.ErrFenced):
		return string(telemetry.ErrTypeFenced)
	case errors.Is(err, telegram.ErrRateLimited):
		return string(telemetry.ErrTypeTelegram429)
	case errors.As(err, &apiErr):
		return string(telemetry.TelegramErrorType(apiErr.Status))
	case errors.As(err, &redisErr), errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout):
		return string(telemetry.ErrTypeRedis)
	}
	return string(telemetry.ErrTypeHandler)
}
