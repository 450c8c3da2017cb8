// Package opsweb is the ops page: GET /ops on LISTEN_ADDR (CONTRACT §9).
// Every instance serves it and it reads the same Redis state as
// `dispatcher status`, `trace` and `dlq` (through internal/inspect), so any
// instance shows the whole deployment: instances and roles, each shard's
// lease holder, token and TTL left, stream, pending, oldest pending, dead
// letters (with replay and drop), throughput, and a search by cid (the
// chain as a timeline across instances) and by user id (recent chains, the
// debug-mode switch).
//
// The page is server-rendered with html/template from embedded templates;
// one small embedded script refreshes its live parts without a reload
// (it fetches the same templates' fragments) and counts the TTLs down. No
// build step, no CDN, no inline script or style.
//
// Security, each covered by a test of this package:
//   - Without OPS_TOKEN every path under /ops answers 404, except in
//     sandbox mode, where the page is open (Config.Open).
//   - OPS_TOKEN is accepted as `Authorization: Bearer TOKEN` or as the
//     login form's password, compared in constant time (both sides hashed
//     first, so neither content nor length leaks). A login sets a session
//     cookie (HttpOnly, SameSite=Strict, Path=/ops, Secure over HTTPS)
//     signed with a key derived from OPS_TOKEN, valid on every instance for
//     SessionLife; changing OPS_TOKEN ends every session.
//   - Every POST (login, logout, replay, drop, debug mode) needs a CSRF
//     token bound to a per-browser cookie, and is refused when Origin or
//     Sec-Fetch-Site say it came from another site (OPS_DENIED FORBIDDEN).
//   - Actions log OPS_ACTION (domain ADMIN) with the operator's name given
//     at login and the client's address; wrong tokens log OPS_DENIED.
//   - No configuration value is rendered: no bot token, webhook secret,
//     OPS_TOKEN or Redis URL reaches the page.
//   - Everything that came from users (callback data, texts, states,
//     errors) is escaped by html/template; a Content-Security-Policy
//     allows scripts, styles and connections from the page's own origin
//     only.
//
// Not guaranteed: the operator's name is what they typed at login (one
// shared OPS_TOKEN cannot tell people apart); in sandbox mode without
// OPS_TOKEN, CSRF tokens are signed with a key of this process, so a form
// must be posted to the instance that served it.
package opsweb

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/inspect"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Path is where the page is mounted; every route is under it.
const Path = "/ops"

// Timings and limits of the page.
const (
	// SessionLife is how long a login lasts.
	SessionLife = 12 * time.Hour
	// Refresh is how often the live parts are fetched again.
	Refresh = time.Second
	// DebugSpan is how long the debug-mode switch turns debug logging on
	// (as the bot's Debug 30 min button does).
	DebugSpan = 30 * time.Minute
	// GapAfter is the pause between two events of a chain that a timeline
	// marks as a gap.
	GapAfter = 500 * time.Millisecond
	// UserChains is how many of a user's recent chains are shown.
	UserChains = 10
	// DeadLetterLimit is the most dead letters listed per shard.
	DeadLetterLimit = 50
	// requestTimeout bounds one request's Redis work.
	requestTimeout = 10 * time.Second
	// maxForm bounds a POST body.
	maxForm = 16 << 10
)

// DebugSwitch is the shared debug flag (implemented by *debugflag.Flag).
type DebugSwitch interface {
	EnableDebug(ctx context.Context, d time.Duration) (time.Time, error)
	DisableDebug(ctx context.Context) error
	Until(ctx context.Context) (time.Time, bool, error)
}

// Config is what the page needs.
type Config struct {
	Inspector *inspect.Inspector
	Debug     DebugSwitch
	Log       *telemetry.Logger
	// Token is OPS_TOKEN; empty closes the page (404) unless Open.
	Token string
	// Open serves the page without login (sandbox mode without OPS_TOKEN).
	Open bool
	// Instance is this instance's id, shown as the page's server.
	Instance string
	// LeaseTTL is LEASE_TTL, the full length of a TTL bar.
	LeaseTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// ErrConfig: the Config lacks something the page needs.
var ErrConfig = errors.New("opsweb: incomplete configuration")

// Handler serves every path under /ops. It holds no goroutines.
type Handler struct {
	c      Config
	auth   *auth
	pages  map[string]*template.Template
	assets http.Handler

	mu     sync.Mutex
	sample inspect.Counters // the last counters a rate was computed from
	rate   inspect.Rate
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// New returns the handler of c.
func New(c Config) (*Handler, error) {
	if c.Inspector == nil || c.Debug == nil || c.Log == nil {
		return nil, ErrConfig
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	a, err := newAuth(c.Token, c.Open, c.Now)
	if err != nil {
		return nil, err
	}
	h := &Handler{c: c, auth: a, pages: map[string]*template.Template{}}
	for _, name := range []string{"overview", "trace", "user", "login", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html",
			"templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		h.pages[name] = t
	}
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	h.assets = http.StripPrefix(Path+"/assets/", http.FileServer(http.FS(sub)))
	return h, nil
}

// csp is the Content-Security-Policy of every answer: the page's own
// script, style and fetches only, no inline script or style, no framing,
// forms posted to the page itself.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP routes a request under /ops.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.auth.enabled() {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin") // not no-referrer: with it, a form POST says Origin: null
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	path := r.URL.Path
	if strings.HasPrefix(path, Path+"/assets/") {
		if !allow(w, r, http.MethodGet) {
			return
		}
		h.assets.ServeHTTP(w, r)
		return
	}
	type route struct {
		method string
		serve  func(http.ResponseWriter, *http.Request, session)
	}
	routes := map[string]route{
		Path: {http.MethodGet, h.overview}, Path + "/": {http.MethodGet, h.overview},
		Path + "/trace": {http.MethodGet, h.trace}, Path + "/user": {http.MethodGet, h.user},
		Path + "/dlq": {http.MethodPost, h.dlqAction}, Path + "/debug": {http.MethodPost, h.debugAction},
		Path + "/logout": {http.MethodPost, h.logout},
	}
	if path == Path+"/login" {
		h.login(w, r)
		return
	}
	rt, ok := routes[path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if !allow(w, r, rt.method) {
		return
	}
	s, ok := h.authorize(w, r)
	if !ok {
		return
	}
	if r.Method == http.MethodPost && !h.csrfOK(w, r) {
		return
	}
	rt.serve(w, r, s)
}

// allow answers 405 to a method other than m (GET also allows HEAD).
func allow(w http.ResponseWriter, r *http.Request, m string) bool {
	if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("Allow", m)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

func (h *Handler) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), requestTimeout)
}
