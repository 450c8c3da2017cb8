package server

import (
	"context"
	"errors"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/membership"
	"github.com/dispatcher-bot/dispatcher/internal/metrics"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/router"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/version"
	"github.com/dispatcher-bot/dispatcher/internal/worker"
)

// Options choose what an instance runs (NewWith).
type Options struct {
	// Bot builds the handler of every update from the instance's parts
	// (required: the reference bot, examples/menubot, is wired by
	// internal/refbot).
	Bot func(env *BotEnv) (worker.Handler, error)
	// NoJournal runs the instance without its event journal (events are
	// logged, not kept): the benchmark measures what the journal costs.
	NoJournal bool
}

// errNoBot is returned by NewWith without Options.Bot.
var errNoBot = errors.New("server: Options.Bot is required (the reference bot: internal/refbot)")

// BotEnv is what an instance gives the bot it runs: the clients, the
// logger and the settings a handler needs. Its fields are set before
// Options.Bot is called and never change.
type BotEnv struct {
	Config   *config.Config
	Redis    *redisx.Client // the instance's Redis client (never closed by the bot)
	Keys     keys.Space
	Log      *telemetry.Logger
	Metrics  *metrics.Metrics
	Telegram *telegram.Client // in sandbox mode, the fake Bot API under /sandbox/
	Username string           // the bot's username from getMe ("" when unknown)
	// Admins is who may use admin-only routes (ADMIN_IDS, see admins).
	Admins func(userID int64) bool
	// Valid tells whether this instance still holds shard under token.
	Valid func(shard int, token int64) bool
	// WrapRoutes injects DISPATCHER_FAULTS into every route (nil: none).
	WrapRoutes func(router.HandlerFunc) router.HandlerFunc
	Journal    telemetry.JournalReader
	Debug      telemetry.DebugSetter
}

// newBot builds the Bot API client and the bot: opts.Bot's, or the
// reference bot. In sandbox mode the client talks to the fake Bot API
// mounted on this instance's own listener under /sandbox/.
func (s *Server) newBot(faults Faults) (worker.Handler, error) {
	token, apiURL := s.botAPI()
	tg, err := telegram.New(telegram.Config{Token: token, APIURL: apiURL, Log: s.log, Metrics: s.metrics})
	if err != nil {
		return nil, err
	}
	s.answerCallback = tg.AnswerCallback
	username := s.botUsername(tg)
	s.ident.botName = username
	s.metrics.SetBot(username)
	env := &BotEnv{Config: &s.cfg, Redis: s.redis, Keys: s.keys, Log: s.log, Metrics: s.metrics, Telegram: tg,
		Username: username, Admins: s.admins(), Valid: func(shard int, token int64) bool { return s.leases.Valid(shard, token) },
		WrapRoutes: faults.WrapRoutes(), Journal: s.journal, Debug: s.debug}
	if s.opts.Bot == nil {
		return nil, errNoBot
	}
	return s.opts.Bot(env)
}

// insecureAdmin reports whether the webhook runs without a secret outside
// sandbox mode: anyone who reaches it can post an update in any user's
// name, an admin's too. With INGEST=poll the webhook path answers 404 and
// every update comes from getUpdates, so no secret is needed.
func (s *Server) insecureAdmin() bool {
	return s.cfg.WebhookSecret == "" && !s.cfg.Sandbox && s.cfg.Ingest != config.IngestPoll
}

// admins is who may use /debug and its buttons: ADMIN_IDS, but nobody while
// the webhook has no secret (outside sandbox mode), unless
// ALLOW_INSECURE_ADMIN=true; the others are refused with FORBIDDEN.
func (s *Server) admins() func(int64) bool {
	if s.insecureAdmin() && !s.cfg.AllowInsecureAdmin {
		return func(int64) bool { return false }
	}
	return s.cfg.IsAdmin
}

// botAPI returns the bot token and the Bot API base URL the instance talks
// to: in sandbox mode the fake Bot API mounted on this instance's own
// listener under /sandbox/ (made on the first call).
func (s *Server) botAPI() (token, apiURL string) {
	token, apiURL = s.cfg.BotToken, s.cfg.TelegramAPIURL
	if s.cfg.Sandbox {
		if s.sandbox == nil {
			s.sandbox = fakebot.New()
		}
		apiURL = "http://" + s.OpsAddr() + "/sandbox" // the sandbox routes are with the ops endpoints
		if token == "" {
			token = telegram.SandboxToken
		}
	}
	return token, apiURL
}

// botUsername asks Telegram for the bot's username (getMe): in groups the
// bot takes only commands addressed to it (/start@username) and replies to
// its messages. Without an answer within a few seconds the bot takes every
// command and a warning says so. The sandbox's fake is not served yet at
// this point: its getMe answer is read from it directly.
func (s *Server) botUsername(tg *telegram.Client) string {
	if s.cfg.Sandbox {
		name, _ := s.sandbox.Me()["username"].(string)
		return name
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	me, err := tg.Bot().GetMe(ctx)
	if err != nil {
		s.log.Service(zapcore.WarnLevel, telemetry.EvTelegramAPIError,
			"getMe failed: without the bot's username, every command is taken, in groups too", zap.Error(err))
		return ""
	}
	s.ident.botID = me.ID
	return me.Username
}

// instanceInfo is what this instance's heartbeat says about it.
func (s *Server) instanceInfo() membership.InstanceInfo {
	host, _ := os.Hostname()
	info := membership.InstanceInfo{ID: s.cfg.InstanceID, Host: host, PID: os.Getpid(), Version: version.Version(),
		Addr: s.Addr(), Started: s.started, Role: s.leases.Role(), Reads: queue.Formats()}
	info.Mode, info.Bot = s.modeAndBot()
	for shard, st := range s.leases.Status() {
		if st.Token > 0 && st.Role == "ACTIVE" {
			info.Shards = append(info.Shards, shard)
		}
	}
	return info
}
