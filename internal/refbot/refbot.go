// Package refbot wires the reference bot (examples/menubot, a user of the
// public API) into the module's own programs: `dispatcher serve`,
// `dispatcher smoke` and the tests that run an instance of it. It is the
// only place the framework's internals name the example.
package refbot

import (
	"io"

	"github.com/dispatcher-bot/dispatcher"
	"github.com/dispatcher-bot/dispatcher/examples/menubot"
	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/seam"
	"github.com/dispatcher-bot/dispatcher/internal/server"
	"github.com/dispatcher-bot/dispatcher/internal/worker"
)

// Bot builds the reference bot on an instance's parts, with the catalog of
// CATALOG_FILE (server.Options.Bot).
func Bot(env *server.BotEnv) (worker.Handler, error) {
	var cat *menubot.Catalog
	if env.Config.CatalogFile != "" {
		var err error
		if cat, err = menubot.LoadCatalog(env.Config.CatalogFile); err != nil {
			return nil, err
		}
	}
	b, err := menubot.New(menubot.Options{Catalog: cat})
	if err != nil {
		return nil, err
	}
	return seam.Adapt(env, dispatcher.Handler(b)), nil
}

// New builds an instance of the reference bot through dispatcher.New.
func New(c config.Config, logs io.Writer) (seam.Instance, error) {
	return NewWith(c, logs, server.Options{})
}

// NewWith is New with o's settings (o.Bot nil: the reference bot).
func NewWith(c config.Config, logs io.Writer, o server.Options) (*seam.Built, error) {
	if o.Bot == nil {
		o.Bot = Bot
	}
	return seam.New(c, logs, o)
}
