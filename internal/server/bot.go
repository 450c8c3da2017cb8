package server

import (
	"context"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/bot"
	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/version"
	"github.com/dispatcher-bot/dispatcher/internal/worker"
)

// newBot builds the Bot API client and the reference bot. In sandbox mode
// the client talks to the fake Bot API mounted on this instance's own
// listener under /sandbox/.
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
	var cat *bot.Catalog
	if s.cfg.CatalogFile != "" {
		if cat, err = bot.LoadCatalog(s.cfg.CatalogFile); err != nil {
			return nil, err
		}
	}
	return bot.New(bot.Config{Client: s.redis, Telegram: tg, Log: s.log, Metrics: s.metrics, Catalog: cat,
		Admins: s.admins(), SilenceGuard: s.cfg.SilenceGuard, Journal: s.journal, Debug: s.debug,
		Username: username, WrapRoutes: faults.WrapRoutes()})
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
func (s *Server) instanceInfo() lease.InstanceInfo {
	host, _ := os.Hostname()
	info := lease.InstanceInfo{ID: s.cfg.InstanceID, Host: host, PID: os.Getpid(), Version: version.Version(),
		Addr: s.Addr(), Started: s.started, Role: s.leases.Role()}
	info.Mode, info.Bot = s.modeAndBot()
	for shard, st := range s.leases.Status() {
		if st.Token > 0 && st.Role == "ACTIVE" {
			info.Shards = append(info.Shards, shard)
		}
	}
	return info
}
