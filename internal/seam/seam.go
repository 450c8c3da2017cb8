// Package seam lets the module's own programs (cmd/dispatcher, smoke and
// the benchmark) and tests build instances through the public package
// dispatcher with parts a user cannot name: raw handlers of decoded
// updates, and a public dispatcher.Handler (the reference bot,
// examples/menubot, wired by internal/refbot) run on an instance's parts.
// The public package fills these in in its init; importing it is what
// makes them available.
package seam

import (
	"context"
	"io"
	"net/http"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/server"
	"github.com/dispatcher-bot/dispatcher/internal/worker"
)

// Instance is a *dispatcher.Dispatcher.
type Instance interface {
	Run(ctx context.Context) error
	Addr() string
	HTTPHandler() http.Handler
}

// Built is an instance and the server inside it.
type Built struct {
	Instance
	Server *server.Server
}

// New builds an instance through dispatcher.New with o's bot and
// settings; o.Bot must be set (see Adapt).
var New func(c config.Config, logs io.Writer, o server.Options) (*Built, error)

// Adapt returns the worker handler that runs h, a dispatcher.Handler, on
// env's parts (what dispatcher.New does with its Handler). It panics for
// an h that is not a dispatcher.Handler.
var Adapt func(env *server.BotEnv, h any) worker.Handler
