package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/mymmrac/telego"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

func init() { opsCommands["webhook"] = runWebhook }

const webhookUsage = "usage: dispatcher webhook set URL [--max-connections N] [--drop-pending] | webhook info | webhook delete [--drop-pending]"

// runWebhook registers, shows or removes the bot's webhook with Telegram.
func runWebhook(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("%s", webhookUsage)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("webhook "+sub, stderr)
	maxConn := fs.Int("max-connections", 40, "most simultaneous HTTPS connections Telegram opens (1-100)")
	dropPending := fs.Bool("drop-pending", false, "drop the updates Telegram holds for the bot")
	cfg, rest, err := loadConfig(fs, moveFlagsFirst(args))
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
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
		if len(rest) != 1 {
			return usagef("webhook set takes one URL; %s", webhookUsage)
		}
		u, err := url.Parse(rest[0])
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return usagef("webhook set: %q must be an https:// URL (Telegram requires HTTPS)", rest[0])
		}
		if *maxConn < 1 || *maxConn > 100 {
			return usagef("webhook set: -max-connections must be 1-100, got %d", *maxConn)
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
		if len(rest) > 0 {
			return usagef("webhook info takes no arguments")
		}
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
		if len(rest) > 0 {
			return usagef("webhook delete takes no arguments")
		}
		if err := bot.DeleteWebhook(ctx, &telego.DeleteWebhookParams{DropPendingUpdates: *dropPending}); err != nil {
			return fmt.Errorf("webhook delete: %w", err)
		}
		fmt.Fprintln(stdout, "webhook deleted")
		return nil
	}
	return usagef("unknown webhook command %q; %s", sub, webhookUsage)
}

func secretState(s string) string {
	if s == "" {
		return "none"
	}
	return "set"
}
