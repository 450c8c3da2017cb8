// Package seam lets the module's own programs (cmd/dispatcher, smoke and
// the benchmark) build instances through the public package dispatcher
// with parts a user cannot name: the reference bot, and raw handlers of
// decoded updates. The public package fills these in in its init;
// importing it is what makes them available.
package seam

import (
	"context"
	"io"
	"net/http"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/server"
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

// NewReference builds an instance of the reference bot: dispatcher.New
// with internal/bot.
var NewReference func(c config.Config, logs io.Writer) (Instance, error)

// New builds an instance through dispatcher.New with o's bot (nil: the
// reference bot) and settings.
var New func(c config.Config, logs io.Writer, o server.Options) (*Built, error)
