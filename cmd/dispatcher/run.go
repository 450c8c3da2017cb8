package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/membership"
	"github.com/dispatcher-bot/dispatcher/internal/refbot"
	"github.com/dispatcher-bot/dispatcher/internal/version"
)

func init() {
	register(&command{name: "serve", usage: "serve [flags]",
		summary: "run one instance: webhook ingest, lease elector, workers, HTTP ops endpoints",
		about: `Every flag is also an environment variable (named in parentheses); the flag wins.
Without BOT_TOKEN it runs in sandbox mode: a built-in fake Bot API (GET /sandbox/messages)
and, without REDIS_URL, an embedded Redis for this one instance (see README.md).`,
		config: true,
		setup: func(fs *flag.FlagSet, cfg *config.Config) func(context.Context, *call) error {
			cfg.BindFlags(fs)
			return runServe
		}})
	register(&command{name: "version", usage: "version", summary: "the version, commit and Go version of this build",
		setup: func(*flag.FlagSet, *config.Config) func(context.Context, *call) error {
			return func(_ context.Context, c *call) error {
				if len(c.args) > 0 {
					return usageErr("version", "version takes no arguments, got %q", c.args[0])
				}
				_, err := io.WriteString(c.stdout, "dispatcher "+version.Get().String()+"\n")
				return err
			}
		}})
}

func runServe(ctx context.Context, c *call) error {
	if len(c.args) > 0 {
		return usageErr("serve", "serve takes no arguments, got %q", c.args[0])
	}
	srv, err := refbot.New(c.cfg, c.stdout) // dispatcher.New with examples/menubot
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// isConfigError reports errors that mean bad configuration.
func isConfigError(err error) bool {
	return errors.Is(err, config.ErrInvalid) || errors.Is(err, membership.ErrDuplicateInstance)
}
