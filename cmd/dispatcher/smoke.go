package main

import (
	"context"
	"io"

	"github.com/dispatcher-bot/dispatcher/internal/smoke"
)

func init() {
	opsCommands["smoke"] = func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		if len(args) > 0 {
			return usagef("smoke takes no arguments")
		}
		return smoke.Run(ctx, stdout)
	}
}
