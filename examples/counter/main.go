// Command counter is the second example bot on the dispatcher's public
// API, small and unlike the reference menu bot: one counter per chat.
//
//	/start     shows the counter with a "+1" button
//	/add N     adds N (1..1000) to it
//	/name      asks for the counter's name (a step of its own FSM), and the
//	           next text names it
//
// Every change is one fenced Lua script (dispatcher.Script) that also
// remembers the update it applied, so a redelivered update (after a kill -9
// between the script and the acknowledgement) does not count twice, and a
// stale leader cannot count at all. The log of additions per chat is kept
// beside the counter, so the e2e test can check order and exactly-once.
//
// Run it like the dispatcher: every variable of docs/configuration.md
// applies (no BOT_TOKEN: sandbox mode; no REDIS_URL: embedded Redis).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/dispatcher-bot/dispatcher"
)

func main() {
	cfg, err := dispatcher.ConfigFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "counter:", err)
		os.Exit(2)
	}
	d, err := dispatcher.New(cfg, New())
	if err != nil {
		fmt.Fprintln(os.Stderr, "counter:", err)
		os.Exit(exitCode(err))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "counter:", err)
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, dispatcher.ErrInvalidConfig) {
		return 2
	}
	return 1
}
