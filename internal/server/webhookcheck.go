package server

import (
	"context"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/webhookcheck"
)

// runWebhookCheck runs the webhook check (internal/webhookcheck) until ctx
// ends: with INGEST=webhook, outside sandbox mode and with
// WEBHOOK_CHECK_INTERVAL > 0, the holder of shard 0 asks Telegram
// getWebhookInfo every interval. It has a Bot API client of its own.
func (s *Server) runWebhookCheck(ctx context.Context) error {
	if s.cfg.Sandbox || s.cfg.Ingest != config.IngestWebhook || s.cfg.WebhookCheckInterval <= 0 {
		return nil
	}
	tg, err := telegram.New(telegram.Config{Token: s.cfg.BotToken, APIURL: s.cfg.TelegramAPIURL, Log: s.log, Metrics: s.metrics})
	if err != nil {
		return err
	}
	bot := tg.Bot()
	c, err := webhookcheck.New(webhookcheck.Config{
		Fetch: func(ctx context.Context) (webhookcheck.Info, error) {
			info, err := bot.GetWebhookInfo(ctx)
			if err != nil {
				return webhookcheck.Info{}, err
			}
			return webhookcheck.Info{URL: info.URL, Pending: info.PendingUpdateCount,
				LastErrorDate: info.LastErrorDate, LastErrorMessage: info.LastErrorMessage}, nil
		},
		Redis: s.redis, Keys: s.keys, Metrics: s.metrics, Log: s.log,
		Leading:  func() bool { return s.leases.Status()[0].Role == telemetry.RoleActive },
		Every:    s.cfg.WebhookCheckInterval,
		URL:      s.cfg.WebhookURL,
		Path:     s.cfg.WebhookPath,
		Instance: s.cfg.InstanceID,
	})
	if err != nil {
		return err
	}
	return c.Run(ctx)
}
