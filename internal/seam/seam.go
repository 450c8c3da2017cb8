// Package seam lets the module's own programs (cmd/dispatcher, smoke,
// bench) build instances through the public package dispatcher with parts
// a user cannot name: the reference bot, and raw handlers of decoded
// updates. The public package fills these in its init; importing it is
// what makes them available.
package seam

import (
	"context"
	"io"
	"net/http"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// Instance is a *dispatcher.Dispatcher.
type Instance interface {
	Run(ctx context.Context) error
	Addr() string
	HTTPHandler() http.Handler
}

// NewReference builds an instance of the reference bot (dispatcher.New
// with internal/bot).
var NewReference func(c config.Config, logs io.Writer) (Instance, error)

// NewHandler builds an instance that hands every decoded update to h.
var NewHandler func(c config.Config, logs io.Writer, h func(ctx context.Context, u *update.Update) error) (Instance, error)
