package opsweb

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/dispatcher-bot/dispatcher/internal/inspect"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// page is what the layout shows around every page.
type page struct {
	Title     string
	Instance  string // the instance serving the page
	Namespace string
	CSRF      string
	Operator  string
	Open      bool // no login (sandbox): no logout button
	Bearer    bool
	Refresh   int64 // ms between fetches of the live parts
	Notice    string
	NoticeURL string // a link the notice offers ("" none)
	NoticeBad bool
	Live      string // URL of this page's live fragment
}

// view is a template's data: the page and its content.
type view struct {
	P page
	D any
}

type loginView struct {
	Next, Operator, Error string
}

// isFragment reports a request of a page's live part (?part=live).
func isFragment(r *http.Request) bool { return r.URL.Query().Get("part") == "live" }

// render executes page name (the whole page, or its "live" block for a
// fragment request) and writes it with status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, s session, d any) {
	p := page{Title: titles[name], Instance: h.c.Instance, Namespace: h.c.Inspector.Namespace(), CSRF: h.csrf(w, r),
		Operator: s.Operator, Open: s.Open, Bearer: s.Bearer, Refresh: Refresh.Milliseconds()}
	h.notice(r, &p)
	block := "layout"
	if isFragment(r) {
		block = "live"
	}
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, block, view{P: p, D: d}); err != nil {
		http.Error(w, "ops page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

var titles = map[string]string{"overview": "Overview", "trace": "Trace", "user": "User", "login": "Log in", "error": "Error"}

// overview is GET /ops: the deployment at a glance.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request, s session) {
	ctx, cancel := h.ctx(r)
	defer cancel()
	ov := h.readOverview(ctx)
	status := http.StatusOK
	if ov.Err != "" && isFragment(r) {
		status = http.StatusServiceUnavailable // the script keeps what it shows and marks it stale
	}
	h.render(w, r, status, "overview", s, ov)
}

// trace is GET /ops/trace?cid=CID: the chain of one cid as a timeline.
func (h *Handler) trace(w http.ResponseWriter, r *http.Request, s session) {
	q := strings.TrimSpace(r.URL.Query().Get("cid"))
	tv := traceView{CID: q}
	if !telemetry.ValidCID(q) {
		tv.Err = "A cid is 8 lowercase hex characters (as in the webhook's answer and every log line of the update)."
		h.render(w, r, http.StatusBadRequest, "trace", s, tv)
		return
	}
	tv.Poll = true
	ctx, cancel := h.ctx(r)
	defer cancel()
	ch, err := h.c.Inspector.Trace(ctx, q)
	if err != nil {
		tv.Err = "Reading the journal failed: " + err.Error()
		h.render(w, r, http.StatusServiceUnavailable, "trace", s, tv)
		return
	}
	tv.Chain = h.chainView(ch)
	if len(ch.Events) == 0 {
		tv.Err = "No events for cid " + q + ": " + or(ch.Note, "unknown to the journal") + "."
		h.render(w, r, http.StatusNotFound, "trace", s, tv)
		return
	}
	h.render(w, r, http.StatusOK, "trace", s, tv)
}

// user is GET /ops/user?id=N: a user's recent chains and debug mode.
func (h *Handler) user(w http.ResponseWriter, r *http.Request, s session) {
	q := strings.TrimSpace(r.URL.Query().Get("id"))
	uv := userView{Query: q}
	id, err := strconv.ParseInt(q, 10, 64)
	if err != nil || id <= 0 {
		uv.Err = "A user id is a positive integer (Telegram's user id, as user_id in the logs)."
		h.render(w, r, http.StatusBadRequest, "user", s, uv)
		return
	}
	uv.ID = id
	ctx, cancel := h.ctx(r)
	defer cancel()
	uv.Debug = h.readDebug(ctx)
	chains, err := h.c.Inspector.UserChains(ctx, id, UserChains)
	if err != nil {
		uv.Err = "Reading the journal failed: " + err.Error()
		h.render(w, r, http.StatusServiceUnavailable, "user", s, uv)
		return
	}
	for _, ch := range chains {
		uv.Chains = append(uv.Chains, h.chainView(ch))
	}
	h.render(w, r, http.StatusOK, "user", s, uv)
}

// dlqIDText is a dead-letter id as the page lists it.
var dlqIDText = regexp.MustCompile(`^[0-9]{1,4}/[0-9]{1,20}-[0-9]{1,20}$`)

// dlqAction is POST /ops/dlq: replay or drop one dead letter.
func (h *Handler) dlqAction(w http.ResponseWriter, r *http.Request, s session) {
	id, op := r.PostFormValue("id"), r.PostFormValue("op")
	if !dlqIDText.MatchString(id) || (op != "replay" && op != "drop") {
		h.fail(w, r, s, http.StatusBadRequest, "Not a dead-letter action: op must be replay or drop, id SHARD/ID.")
		return
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	action, do := telemetry.OpsDLQReplay, h.c.Inspector.Replay
	if op == "drop" {
		action, do = telemetry.OpsDLQDrop, h.c.Inspector.Drop
	}
	n, err := do(ctx, id)
	h.c.Log.OpsAction(r.Context(), action, s.Operator, remoteAddr(r), id, n, err)
	if err != nil {
		status := http.StatusServiceUnavailable
		var ie *inspect.IDError
		if errors.As(err, &ie) {
			status = http.StatusNotFound
		}
		h.fail(w, r, s, status, "Could not "+op+" "+id+": "+err.Error())
		return
	}
	done := url.Values{"done": {op}, "id": {id}}
	if cid := r.PostFormValue("cid"); telemetry.ValidCID(cid) {
		done.Set("cid", cid)
	}
	http.Redirect(w, r, Path+"?"+done.Encode()+"#dead-letters", http.StatusSeeOther)
}

// debugAction is POST /ops/debug: debug logging on every instance on (for
// DebugSpan) or off.
func (h *Handler) debugAction(w http.ResponseWriter, r *http.Request, s session) {
	mode := r.PostFormValue("mode")
	if mode != "on" && mode != "off" {
		h.fail(w, r, s, http.StatusBadRequest, "Debug mode is on or off.")
		return
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	var err error
	user, _ := strconv.ParseInt(r.PostFormValue("user"), 10, 64)
	if mode == "on" {
		target := DebugSpan.String()
		_, err = h.c.Debug.EnableDebug(ctx, DebugSpan)
		if err == nil && user > 0 {
			// the operator looks into a user's report: the journal keeps the
			// user's next chains in full, as /debug USER_ID does
			var kept bool
			if _, kept, err = h.c.Inspector.DebugUser(ctx, user, DebugSpan); kept {
				target += ", user " + strconv.FormatInt(user, 10) + "'s chains kept in full"
			}
		}
		h.c.Log.OpsAction(r.Context(), telemetry.OpsDebugOn, s.Operator, remoteAddr(r), target, -1, err)
	} else {
		target := "off"
		err = h.c.Debug.DisableDebug(ctx)
		if err == nil && user > 0 {
			var kept bool
			if _, kept, err = h.c.Inspector.DebugUser(ctx, user, -1); kept {
				target += ", user " + strconv.FormatInt(user, 10) + "'s chains no longer kept in full"
			}
		}
		h.c.Log.OpsAction(r.Context(), telemetry.OpsDebugOff, s.Operator, remoteAddr(r), target, -1, err)
	}
	if err != nil {
		h.fail(w, r, s, http.StatusServiceUnavailable, "Could not switch debug mode "+mode+": "+err.Error())
		return
	}
	back := Path + "?done=debug-" + mode
	if user > 0 {
		back = Path + "/user?id=" + strconv.FormatInt(user, 10) + "&done=debug-" + mode
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// fail answers an action that could not be done with a page saying why.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s session, status int, msg string) {
	h.render(w, r, status, "error", s, msg)
}

// notice fills the page's notice from ?done= after an action: fixed
// sentences, with the id and cid only when they have their shape.
func (h *Handler) notice(r *http.Request, p *page) {
	q := r.URL.Query()
	id := q.Get("id")
	if !dlqIDText.MatchString(id) {
		id = ""
	}
	switch q.Get("done") {
	case "replay":
		p.Notice = "Replayed dead letter " + id + ": it is back on its stream with a fresh delivery count."
		if cid := q.Get("cid"); telemetry.ValidCID(cid) {
			p.Notice += " Its trace shows the new dispatch."
			p.NoticeURL = Path + "/trace?cid=" + cid
		}
	case "drop":
		p.Notice = "Dropped dead letter " + id + " for good."
	case "debug-on":
		p.Notice = "Debug logging is on for " + DebugSpan.String() + " on every instance (each logs DEBUG_MODE_CHANGED within a second)."
		if r.URL.Path == Path+"/user" {
			p.Notice += " The journal keeps every chain of this user in full meanwhile."
		}
	case "debug-off":
		p.Notice = "Debug logging is off: every instance is back at LOG_LEVEL within a second."
		if r.URL.Path == Path+"/user" {
			p.Notice += " The journal keeps the chains of this user as any other's again."
		}
	}
}

// or is s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// readDebug reads the shared debug flag.
func (h *Handler) readDebug(ctx context.Context) debugView {
	until, on, err := h.c.Debug.Until(ctx)
	if err != nil {
		return debugView{Err: err.Error()}
	}
	return debugView{On: on, Until: until}
}
