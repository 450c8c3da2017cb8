package dispatcher

import (
	"os"

	"github.com/dispatcher-bot/dispatcher/internal/config"
)

// Config is an instance's configuration: the environment variables of
// docs/configuration.md (REDIS_URL, BOT_TOKEN, SHARDS, LEASE_TTL, ...),
// with the same defaults, parsing and validation as `dispatcher serve`.
// The zero Config is not usable: start from DefaultConfig or ConfigFromEnv.
type Config struct{ c config.Config }

// ErrInvalidConfig matches every configuration error; the error's text
// names the variable and what is wrong with it.
var ErrInvalidConfig = config.ErrInvalid

// DefaultConfig returns the defaults: with no BOT_TOKEN, sandbox mode (a
// fake Bot API served by the instance itself) and, with no REDIS_URL, an
// embedded in-process Redis, so that a bot runs on a laptop with no setup.
func DefaultConfig() *Config {
	c := config.Default()
	c.Sandbox = true
	return &Config{c: c}
}

// ConfigFromEnv returns the defaults overlaid with the process's
// environment. A variable set to the empty string counts as unset.
func ConfigFromEnv() (*Config, error) { return ConfigFromLookup(os.LookupEnv) }

// ConfigFromLookup is ConfigFromEnv reading variables through lookup.
func ConfigFromLookup(lookup func(name string) (string, bool)) (*Config, error) {
	c, err := config.FromEnv(lookup)
	if err != nil {
		return nil, err
	}
	return &Config{c: c}, nil
}

// Set sets one variable by its name, e.g. Set("SHARDS", "4"), parsed as
// from the environment. A non-empty BOT_TOKEN turns sandbox mode off.
func (c *Config) Set(name, value string) error { return c.c.Set(name, value) }

// Get returns a variable's value as text ("" for secrets); false for an
// unknown name.
func (c *Config) Get(name string) (string, bool) { return c.c.Value(name) }

// Validate checks the configuration as New does.
func (c *Config) Validate() error { return c.c.Validate() }

// Variables returns the names of every variable Set and the environment
// take.
func Variables() []string {
	var names []string
	for _, v := range config.Vars() {
		names = append(names, v.Env)
	}
	return names
}
