package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"time"

	"github.com/mymmrac/telego"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

func init() {
	register(&command{name: "webhook", usage: "webhook set [URL] [--max-connections N] [--drop-pending]\nwebhook info\nwebhook delete [--drop-pending]",
		summary: "register (set), show (info) or remove (delete) the bot's webhook with Telegram",
		about: `Talks to Telegram with BOT_TOKEN (at TELEGRAM_API_URL); set registers WEBHOOK_SECRET as the
secret_token Telegram sends with each update, and the update types the dispatcher handles; without
URL, set registers WEBHOOK_URL.`,
		config: true,
		setup: func(fs *flag.FlagSet, _ *config.Config) func(context.Context, *call) error {
			o := webhookOpts{}
			fs.IntVar(&o.maxConn, "max-connections", 40, "most simultaneous HTTPS connections Telegram opens, 1-100 (set)")
			fs.BoolVar(&o.dropPending, "drop-pending", false, "drop the updates Telegram holds for the bot (set, delete)")
			return func(ctx context.Context, c *call) error { return runWebhook(ctx, c, o) }
		}})
}

// webhookOpts are the flags of webhook.
type webhookOpts struct {
	maxConn     int
	dropPending bool
}

// runWebhook registers, shows or removes the bot's webhook with Telegram.
func runWebhook(ctx context.Context, c *call, o webhookOpts) error {
	if len(c.args) == 0 {
		return usageErr("webhook", "webhook needs a subcommand: set, info or delete")
	}
	sub, rest := c.args[0], c.args[1:]
	if sub == "set" && len(rest) == 0 && c.cfg.WebhookURL != "" {
		rest = []string{c.cfg.WebhookURL} // WEBHOOK_URL is the default
	}
	switch {
	case sub != "set" && sub != "info" && sub != "delete":
		return usageErr("webhook", "unknown webhook subcommand %q (set, info or delete)", sub)
	case sub == "set" && len(rest) != 1:
		return usageErr("webhook", "webhook set takes one URL (or WEBHOOK_URL), got %d arguments", len(rest))
	case sub != "set" && len(rest) > 0:
		return usageErr("webhook", "webhook %s takes no arguments, got %q", sub, rest[0])
	}
	maxConn, dropPending := &o.maxConn, &o.dropPending
	stdout, stderr, cfg := c.stdout, c.stderr, c.cfg
	if cfg.Sandbox || cfg.BotToken == "" {
		return &config.Error{Var: "BOT_TOKEN", Reason: "webhook talks to Telegram: set BOT_TOKEN (and SANDBOX=false)"}
	}
	log, err := telemetry.New(telemetry.Options{Format: cfg.LogFormat, Level: zapcore.InfoLevel,
		Instance: cfg.InstanceID, Secrets: cfg.Secrets(), Output: stderr})
	if err != nil {
		return err
	}
	tg, err := telegram.New(telegram.Config{Token: cfg.BotToken, APIURL: cfg.TelegramAPIURL, Log: log,
		Metrics: metrics.NewTest(), NoLimits: true})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, opsTimeout)
	defer cancel()
	bot := tg.Bot()
	switch sub {
	case "set":
		u, err := url.Parse(rest[0])
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return usageErr("webhook", "webhook set: %q must be an https:// URL (Telegram requires HTTPS)", rest[0])
		}
		if *maxConn < 1 || *maxConn > 100 {
			return usageErr("webhook", "webhook set: -max-connections must be 1-100, got %d", *maxConn)
		}
		if cfg.WebhookSecret == "" {
			fmt.Fprintln(stderr, "warning: WEBHOOK_SECRET is empty: anyone who finds the URL can post updates")
		}
		params := &telego.SetWebhookParams{URL: rest[0], SecretToken: cfg.WebhookSecret,
			AllowedUpdates: telegram.AllowedUpdates(), MaxConnections: *maxConn, DropPendingUpdates: *dropPending}
		if err := bot.SetWebhook(ctx, params); err != nil {
			return fmt.Errorf("webhook set: %w", err)
		}
		fmt.Fprintf(stdout, "webhook set to %s (allowed_updates %v, max_connections %d, secret %s, drop_pending %v)\n",
			rest[0], params.AllowedUpdates, *maxConn, secretState(cfg.WebhookSecret), *dropPending)
		return nil
	case "info":
		info, err := bot.GetWebhookInfo(ctx)
		if err != nil {
			return fmt.Errorf("webhook info: %w", err)
		}
		fmt.Fprintf(stdout, "url:                  %s\n", dash(info.URL))
		fmt.Fprintf(stdout, "pending updates:      %d\n", info.PendingUpdateCount)
		fmt.Fprintf(stdout, "max connections:      %d\n", info.MaxConnections)
		fmt.Fprintf(stdout, "allowed updates:      %v\n", info.AllowedUpdates)
		if info.LastErrorDate > 0 {
			fmt.Fprintf(stdout, "last error:           %s at %s\n", info.LastErrorMessage,
				time.Unix(info.LastErrorDate, 0).UTC().Format(time.RFC3339))
		}
		return nil
	case "delete":
		if err := bot.DeleteWebhook(ctx, &telego.DeleteWebhookParams{DropPendingUpdates: *dropPending}); err != nil {
			return fmt.Errorf("webhook delete: %w", err)
		}
		fmt.Fprintln(stdout, "webhook deleted")
		return nil
	}
	return nil
}

func secretState(s string) string {
	if s == "" {
		return "none"
	}
	return "set"
}
