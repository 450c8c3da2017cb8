package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/opsweb"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// leadership adapts the lease manager for the worker, which is built first.
type leadership struct{ s *Server }

func (l leadership) Valid(shard int, token int64) bool { return l.s.leases.Valid(shard, token) }

// Webhook returns the webhook's handler (what LISTEN_ADDR serves at
// WEBHOOK_PATH), to mount in another server's mux; nil with INGEST=poll.
func (s *Server) Webhook() http.Handler {
	if s.poller != nil {
		return nil
	}
	return s.webhook
}

// Handler returns everything the instance serves on LISTEN_ADDR.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Token is the token this instance holds for shard now (the Bot API proxy's fence).
func (l leadership) Token(shard int) (int64, error) { return l.s.leases.Token(shard) }

// routes is the handler of LISTEN_ADDR: the webhook, and, unless
// OPS_LISTEN_ADDR is set, the ops endpoints and sandbox routes too (with
// it, only /healthz of them, for platforms that probe the public port).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	if s.poller == nil { // INGEST=poll: nothing at the webhook path (404)
		mux.Handle(s.cfg.WebhookPath, s.webhook)
	}
	if s.opsListener != nil {
		mux.HandleFunc("/healthz", healthz)
		return s.withProxy(mux) // the Bot API proxy is the bots' LISTEN_ADDR (CONTRACT §7)
	}
	return s.withProxy(s.opsRoutes(mux))
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// opsRoutes adds the ops endpoints (/healthz, /readyz, /metrics, /ops) and,
// in sandbox mode only, the sandbox routes to mux.
func (s *Server) opsRoutes(mux *http.ServeMux) http.Handler {
	mux.HandleFunc("/healthz", healthz)
	mux.HandleFunc("/readyz", s.readyz)
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}))
	mux.Handle(opsweb.Path, s.ops) // 404 without OPS_TOKEN outside sandbox mode
	mux.Handle(opsweb.Path+"/", s.ops)
	if s.sandbox != nil && s.cfg.Sandbox { // never outside sandbox mode
		mux.Handle("/sandbox/messages", s.sandbox.MessagesHandler())
		if s.poller != nil {
			mux.Handle("/sandbox/updates", s.sandbox.UpdatesHandler()) // what getUpdates returns
		}
		if s.redis.Embedded != nil {
			mux.HandleFunc(SandboxRedisPath, s.sandboxRedis)
		}
		mux.Handle("/sandbox/", s.sandbox)
	}
	return mux
}

// SandboxRedisPath is where a sandbox instance with an embedded Redis tells
// the operator commands (status, trace, dlq) how to reach that Redis.
const SandboxRedisPath = "/sandbox/redis"

// SandboxRedis is the JSON of GET /sandbox/redis. The embedded Redis
// listens on a loopback port of the instance's machine only.
type SandboxRedis struct {
	Addr      string `json:"addr"` // host:port of the embedded Redis
	Namespace string `json:"namespace"`
	Shards    int    `json:"shards"`
	Instance  string `json:"instance"`
}

func (s *Server) sandboxRedis(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(SandboxRedis{Addr: s.redis.Embedded.Addr(), Namespace: s.cfg.Namespace,
		Shards: s.cfg.Shards, Instance: s.cfg.InstanceID})
}

// Readiness is the JSON of GET /readyz (CONTRACT §3).
type Readiness struct {
	Instance string                 `json:"instance"`
	Role     string                 `json:"role"`
	Shards   map[string]ShardReady  `json:"shards"`
	Redis    string                 `json:"redis"`
	Poll     *ShardReady            `json:"poll,omitempty"`     // INGEST=poll: the poll lease on this instance
	Upstream string                 `json:"upstream,omitempty"` // forward mode: "ok" or "unreachable" (CONTRACT §7)
	Starting bool                   `json:"starting,omitempty"` // the start checks have not passed yet
	Stopping bool                   `json:"stopping,omitempty"`
	Uptime   string                 `json:"uptime"`
	Extra    map[string]interface{} `json:"-"`
}

// ShardReady is one shard's role and token in /readyz.
type ShardReady struct {
	Role  string `json:"role"`
	Token int64  `json:"token"`
}

func (s *Server) readiness() (Readiness, bool) {
	r := Readiness{Instance: s.cfg.InstanceID, Role: telemetry.RolePassive, Shards: map[string]ShardReady{},
		Redis: "ok", Upstream: s.upstreamStatus(), Stopping: s.stopping.Load(), Uptime: time.Since(s.started).Truncate(time.Second).String()}
	for shard, st := range s.leases.Status() {
		r.Shards[strconv.Itoa(shard)] = ShardReady{Role: st.Role, Token: st.Token}
		if st.Role == telemetry.RoleActive {
			r.Role = telemetry.RoleActive
		}
	}
	if s.poller != nil {
		st := s.poller.Status()
		r.Poll = &ShardReady{Role: st.Role, Token: st.Token}
	}
	// ready once the webhook takes updates: Redis answers and the start
	// checks passed (until then the webhook answers 503)
	r.Starting = s.ingest.Held()
	ok := s.redisOK.Load() && !r.Stopping && !r.Starting
	if !s.redisOK.Load() {
		r.Redis = "unavailable"
	}
	return r, ok
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	rd, ok := s.readiness()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(rd)
}

var _ = lease.ErrFenced
var _ = strings.TrimSpace
