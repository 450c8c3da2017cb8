package server

import (
	"net/http"

	"github.com/dispatcher-bot/dispatcher/internal/botproxy"
	"github.com/dispatcher-bot/dispatcher/internal/forward"
	"github.com/dispatcher-bot/dispatcher/internal/telegram"
	"github.com/dispatcher-bot/dispatcher/internal/worker"
)

// This file is the one place forward mode (CONTRACT §7, UPSTREAM_URL) is
// wired: newHandler picks the worker's handler, withProxy mounts the Bot
// API proxy in front of the mux, and Run runs s.forwarder (probe, silence
// timers) with the background components.

// newHandler is the worker's handler: the forwarder with UPSTREAM_URL set,
// else the built-in bot.
func (s *Server) newHandler(faults Faults) (worker.Handler, error) {
	if !s.cfg.Forward() {
		return s.newBot(faults)
	}
	token, apiURL := s.botAPI() // in sandbox mode: the built-in fake Bot API
	// the dispatcher's own client: getMe names the deployment's bot, and a
	// callback dead-lettered before any delivery is answered by this
	// instance (worker.Config.AnswerCallback), as with a built-in bot
	tg, err := telegram.New(telegram.Config{Token: token, APIURL: apiURL, Log: s.log, Metrics: s.metrics})
	if err != nil {
		return nil, err
	}
	s.answerCallback = tg.AnswerCallback
	s.ident.botName = s.botUsername(tg)
	s.metrics.SetBot(s.ident.botName)
	tracker := forward.NewTracker(nil)
	proxy, err := botproxy.New(botproxy.Config{Token: token, APIURL: apiURL, Log: s.log, Deliveries: tracker,
		Leadership: leadership{s}, ShardOf: func(chat int64) int { return s.queue.ShardOf("", chat, 0, 0) },
		Limiter: telegram.NewLimiter(telegram.DefaultLimits(), nil)})
	if err != nil {
		return nil, err
	}
	fwd, err := forward.New(forward.Config{URL: s.cfg.UpstreamURL, Secret: s.cfg.UpstreamSecret,
		Timeout: s.cfg.UpstreamTimeout, SilenceAfter: s.cfg.UpstreamSilenceAfter, Tracker: tracker, Caller: proxy,
		Leadership: leadership{s}, Log: s.log})
	if err != nil {
		return nil, err
	}
	s.proxy, s.forwarder = proxy, fwd
	return fwd, nil
}

// withProxy serves /bot<TOKEN>/... and /file/bot<TOKEN>/... with the proxy
// in forward mode, everything else with next.
func (s *Server) withProxy(next http.Handler) http.Handler {
	if s.proxy == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if botproxy.Match(r.URL.Path) {
			s.proxy.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// upstreamStatus is /readyz's "upstream" in forward mode ("" otherwise).
func (s *Server) upstreamStatus() string {
	if s.forwarder == nil {
		return ""
	}
	return s.forwarder.Status()
}
