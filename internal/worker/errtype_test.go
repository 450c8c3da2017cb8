package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/router"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

type ownType struct{ name string }

func (e ownType) Error() string     { return "own" }
func (e ownType) ErrorType() string { return e.name }

// TestClassifyIsClosed: every failure maps to one error type of
// telemetry.ErrorTypes, never to a Go type name (it was *fmt.wrapError).
func TestClassifyIsClosed(t *testing.T) {
	live := context.Background()
	expired, cancel := context.WithTimeout(live, 0)
	defer cancel()
	stopped, stop := context.WithCancel(live)
	stop()
	wrap := func(err error) error { return fmt.Errorf("menu: %w", err) }
	cases := []struct {
		name      string
		ctx, hctx context.Context
		err       error
		want      telemetry.ErrorType
	}{
		{"plain", live, live, errors.New("boom"), telemetry.ErrTypeHandler},
		{"wrapped plain", live, live, wrap(errors.New("boom")), telemetry.ErrTypeHandler},
		{"worker panic", live, live, &panicError{value: 1}, telemetry.ErrTypePanic},
		{"router panic", live, live, wrap(&router.PanicError{Value: 1}), telemetry.ErrTypePanic},
		{"own known type", live, live, ownType{"REDIS"}, telemetry.ErrTypeRedis},
		{"own unknown type", live, live, ownType{"*my.Error"}, telemetry.ErrTypeHandler},
		{"deadline", live, expired, wrap(context.DeadlineExceeded), telemetry.ErrTypeTimeout},
		{"cancelled", stopped, stopped, wrap(context.Canceled), telemetry.ErrTypeCancelled},
		{"fenced", live, live, wrap(lease.ErrFenced), telemetry.ErrTypeFenced},
		{"telegram 401", live, live, wrap(&telegram.APIError{Method: "sendMessage", Status: 401}), telemetry.ErrTypeTelegram401},
		{"telegram 429", live, live, &telegram.APIError{Method: "sendMessage", Status: 429}, telemetry.ErrTypeTelegram429},
		{"telegram 403", live, live, &telegram.APIError{Method: "sendMessage", Status: 403}, telemetry.ErrTypeTelegram4xx},
		{"telegram 502", live, live, &telegram.APIError{Method: "sendMessage", Status: 502}, telemetry.ErrTypeTelegram5xx},
		{"telegram unreachable", live, live, &telegram.APIError{Method: "sendMessage"}, telemetry.ErrTypeTelegramNetwork},
		{"rate limiter", live, live, wrap(telegram.ErrRateLimited), telemetry.ErrTypeTelegram429},
		{"redis reply", live, live, wrap(redis.Nil), telemetry.ErrTypeRedis},
		{"redis closed", live, live, wrap(redis.ErrClosed), telemetry.ErrTypeRedis},
	}
	for _, c := range cases {
		got := telemetry.ErrorType(classify(c.ctx, c.hctx, c.err))
		require.Equal(t, c.want, got, c.name)
		require.True(t, got.Known(), c.name)
	}
	require.Empty(t, classify(live, live, nil))
}
