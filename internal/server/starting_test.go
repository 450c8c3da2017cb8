package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/refbot"
	"github.com/dispatcher-bot/dispatcher/internal/server"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// TestWebhookWaitsForTheStartChecks: until Redis answered and Run's start
// checks (the deployment's mode, the shard count, the registration)
// passed, the webhook answers 503 (REDIS_UNAVAILABLE, then STARTING) and
// appends nothing. Before, it appended
// as soon as it served: on a fresh namespace that first entry made the
// deployment check take the namespace for one an older version had used,
// and a sandbox instance refused itself (MODE_MISMATCH).
func TestWebhookWaitsForTheStartChecks(t *testing.T) {
	srvR := redistest.NewServer(t, false)
	api := httptest.NewServer(fakebot.New())
	t.Cleanup(api.Close)
	cfg := config.Default()
	cfg.BotToken, cfg.TelegramAPIURL, cfg.WebhookSecret = token, api.URL, secret
	cfg.RedisURL, cfg.Namespace = "redis://"+srvR.Addr(), "starting"
	cfg.ListenAddr, cfg.InstanceID = "127.0.0.1:0", "starting-a"
	cfg.LeaseTTL, cfg.ShutdownTimeout = 2*time.Second, 5*time.Second
	require.NoError(t, cfg.Validate())
	logs := &logtest.Buffer{}
	srv, err := server.NewWith(cfg, logs, server.Options{Bot: refbot.Bot})
	require.NoError(t, err)

	post := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/webhook", strings.NewReader(startBody))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec
	}
	rec := post() // built, not run: Redis not asked, no start check passed
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "REDIS_UNAVAILABLE\n", rec.Body.String())
	n, err := srvR.Client().Exists(context.Background(), keys.New(cfg.Namespace).Shard(0).Stream()).Result()
	require.NoError(t, err)
	require.Zero(t, n, "nothing appended before the checks")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return post().Code == http.StatusOK }, 10*time.Second, 20*time.Millisecond,
		"the webhook opens once the checks passed")
}
