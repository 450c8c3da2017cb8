package main

import (
	"context"
	"flag"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/smoke"
)

func init() {
	register(&command{name: "smoke", usage: "smoke",
		summary: "run the full callback chain in-process and check it (exit 0 only when it is complete)",
		about: `Starts an instance with an embedded Redis and the sandbox Bot API, posts /start and a click
to its webhook, and checks that the click's cid has every event of the chain. Needs no configuration.`,
		setup: func(*flag.FlagSet, *config.Config) func(context.Context, *call) error {
			return func(ctx context.Context, c *call) error {
				if len(c.args) > 0 {
					return usageErr("smoke", "smoke takes no arguments, got %q", c.args[0])
				}
				return smoke.Run(ctx, c.stdout)
			}
		}})
}
