// Command dispatcher runs a Telegram bot on many instances at once without
// losing, duplicating or reordering a user's clicks (see README.md), and
// carries the operator commands: status, trace, dlq, smoke, webhook, version.
//
// main only calls Run and maps its error to an exit code: 0 done or graceful
// stop, 1 runtime failure, 2 bad configuration or usage.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// dupWindow is how close a repeat of the first signal counts as the same.
const dupWindow = 300 * time.Millisecond

func main() {
	ctx, stop := signalContext()
	defer stop()
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on stderr and returns the exit code: a usage error
// is one line and a hint to the help, a configuration error one line
// naming the variable; both exit 2.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "dispatcher:", err)
	if ue, ok := asUsage(err); ok {
		fmt.Fprintln(stderr, ue.hint())
		return 2
	}
	if isConfigError(err) {
		return 2
	}
	return 1
}

// signalContext returns a context cancelled at the first SIGTERM or SIGINT;
// a second signal exits the process at once with code 1. A repeat within
// dupWindow of the first counts as the same signal: tools such as timeout(1)
// deliver one signal to the process and to its group, so it arrives twice.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
			return
		}
		first := time.Now()
		for range ch {
			if time.Since(first) >= dupWindow {
				fmt.Fprintln(os.Stderr, "dispatcher: second signal, exiting at once")
				os.Exit(1)
			}
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}
