package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/server"
)

const usage = `usage: dispatcher [command] [flags]

commands:
  serve                 run one instance (default)
  status [--json]       cluster state read from Redis
  trace CID [--json]    the event chain of one correlation id
  dlq list|replay|drop  inspect and re-enqueue dead letters
  smoke                 run the full callback chain in-process and check it
  webhook set URL|info|delete
  version               version, commit, Go version

Configuration comes from the environment (see docs/configuration.md);
every variable is also a flag of serve: dispatcher serve -h.
`

// Run runs one command line.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "dispatcher %s (commit %s, %s)\n", version, commit, runtime.Version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	if f, ok := opsCommands[cmd]; ok {
		return f(ctx, args, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return usagef("unknown command %q", cmd)
}

// opsCommands are the commands other than serve and version; each file of
// this package that adds one registers it here.
var opsCommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{}

// loadConfig reads the environment, then the flags of fs, then validates.
func loadConfig(fs *flag.FlagSet, args []string) (config.Config, []string, error) {
	cfg, err := config.FromEnv(os.LookupEnv)
	if err != nil {
		return cfg, nil, err
	}
	cfg.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, nil, err
		}
		var ce *config.Error
		if errors.As(err, &ce) {
			return cfg, nil, err
		}
		return cfg, nil, usagef("%v", err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, err
	}
	return cfg, fs.Args(), nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, rest, err := loadConfig(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("serve takes no arguments, got %q", rest[0])
	}
	srv, err := server.New(cfg, stdout)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// isConfigError reports errors that mean bad configuration or usage.
func isConfigError(err error) bool {
	return errors.Is(err, config.ErrInvalid) || errors.Is(err, lease.ErrDuplicateInstance)
}
