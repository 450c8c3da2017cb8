package opsweb

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Cookies of the page, both HttpOnly, SameSite=Strict, Path=/ops.
const (
	sessionCookie = "ops_session"
	csrfCookie    = "ops_csrf"
	// csrfField is the form field that carries the CSRF token.
	csrfField = "csrf"
	// maxOperator is the longest operator name kept.
	maxOperator = 64
)

// Operators named when nobody logged in.
const (
	operatorBearer  = "bearer-token"
	operatorSandbox = "sandbox"
)

// auth checks OPS_TOKEN, signs and verifies sessions and CSRF tokens.
type auth struct {
	token []byte // SHA-256 of OPS_TOKEN; nil when there is none
	key   []byte // HMAC key of sessions and CSRF tokens
	open  bool
	now   func() time.Time
}

// session is who a request acts for.
type session struct {
	Operator string
	Open     bool // no login: sandbox mode without OPS_TOKEN
	Bearer   bool // authenticated by its Authorization header
}

func newAuth(token string, open bool, now func() time.Time) (*auth, error) {
	a := &auth{open: open && token == "", now: now}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		a.token = sum[:]
		m := hmac.New(sha256.New, []byte(token))
		m.Write([]byte("dispatcher ops page sessions v1"))
		a.key = m.Sum(nil)
		return a, nil
	}
	// open (or closed) page: a key of this process only
	a.key = make([]byte, 32)
	if _, err := rand.Read(a.key); err != nil {
		return nil, err
	}
	return a, nil
}

// enabled reports whether the page is served at all.
func (a *auth) enabled() bool { return a.open || a.token != nil }

// tokenOK compares given with OPS_TOKEN in constant time. Both are hashed
// first, so the comparison takes as long whatever given is, and neither
// its content nor its length tells anything about the token's.
func (a *auth) tokenOK(given string) bool {
	if a.token == nil {
		return false
	}
	sum := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(sum[:], a.token) == 1
}

func (a *auth) mac(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, a.key)
	for _, p := range parts {
		m.Write(p)
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// newSession returns the cookie value of a session for operator:
// base64(expiry, operator) "." base64(HMAC).
func (a *auth) newSession(operator string) string {
	payload := binary.BigEndian.AppendUint64(nil, uint64(a.now().Add(SessionLife).Unix()))
	payload = append(payload, operator...)
	return b64.EncodeToString(payload) + "." + b64.EncodeToString(a.mac([]byte("session"), payload))
}

// verifySession returns the operator of a session cookie value that this
// key signed and that has not expired.
func (a *auth) verifySession(v string) (string, bool) {
	p, m, ok := strings.Cut(v, ".")
	if !ok {
		return "", false
	}
	payload, err1 := b64.DecodeString(p)
	sig, err2 := b64.DecodeString(m)
	if err1 != nil || err2 != nil || len(payload) < 8 || !hmac.Equal(sig, a.mac([]byte("session"), payload)) {
		return "", false
	}
	if exp := int64(binary.BigEndian.Uint64(payload[:8])); a.now().Unix() >= exp {
		return "", false
	}
	return string(payload[8:]), true
}

// csrfToken is the form token of a browser's CSRF cookie value.
func (a *auth) csrfToken(nonce string) string {
	return b64.EncodeToString(a.mac([]byte("csrf"), []byte(nonce)))
}

// authorize returns who the request acts for. Without a valid bearer token
// or session it answers: 401 to a bearer token that is wrong, to a POST and
// to a fragment (the script says to log in again), else 303 to the login
// form, which brings the operator back afterwards.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) (session, bool) {
	a := h.auth
	if a.open {
		return session{Operator: operatorSandbox, Open: true}, true
	}
	if hdr := r.Header.Get("Authorization"); hdr != "" {
		scheme, tok, _ := strings.Cut(hdr, " ")
		if strings.EqualFold(scheme, "Bearer") && a.tokenOK(strings.TrimSpace(tok)) {
			return session{Operator: operatorBearer, Bearer: true}, true
		}
		h.c.Log.OpsDenied(r.Context(), telemetry.ReasonUnauthorized, "wrong OPS_TOKEN as bearer token", remoteAddr(r))
		w.Header().Set("WWW-Authenticate", `Bearer realm="dispatcher ops"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return session{}, false
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if op, ok := a.verifySession(c.Value); ok {
			return session{Operator: op}, true
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.c.Log.OpsDenied(r.Context(), telemetry.ReasonUnauthorized, "POST without a session", remoteAddr(r))
		http.Error(w, "unauthorized: log in at "+Path+"/login", http.StatusUnauthorized)
		return session{}, false
	}
	if isFragment(r) {
		http.Error(w, "unauthorized: log in again", http.StatusUnauthorized)
		return session{}, false
	}
	http.Redirect(w, r, Path+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	return session{}, false
}

// csrf returns the CSRF token of the browser's cookie, setting a new
// cookie when it has none.
func (h *Handler) csrf(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 22 {
		return h.auth.csrfToken(c.Value)
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := b64.EncodeToString(b[:])
	setCookie(w, r, csrfCookie, nonce, 0)
	return h.auth.csrfToken(nonce)
}

// csrfOK checks a POST: it must come from this origin (Origin and
// Sec-Fetch-Site, when the browser sends them) and carry the token of its
// CSRF cookie. Else it answers 403 and logs OPS_DENIED FORBIDDEN.
func (h *Handler) csrfOK(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	why := ""
	c, cerr := r.Cookie(csrfCookie)
	switch {
	case !sameOrigin(r):
		why = "POST from another origin"
	case cerr != nil:
		why = "POST without the CSRF cookie"
	case r.ParseForm() != nil:
		why = "POST with an unreadable form"
	case !hmac.Equal([]byte(r.PostFormValue(csrfField)), []byte(h.auth.csrfToken(c.Value))):
		why = "POST without a valid CSRF token"
	default:
		return true
	}
	h.c.Log.OpsDenied(r.Context(), telemetry.ReasonForbidden, why, remoteAddr(r))
	http.Error(w, "forbidden: "+why+"; reload the page and try again", http.StatusForbidden)
	return false
}

// sameOrigin reports whether the browser says the request comes from this
// page's origin (no header: not a browser, or an old one; the CSRF token
// decides).
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host && (u.Scheme == "http" || u.Scheme == "https")
}

// setCookie sets a cookie of the page; maxAge 0 is a browser-session
// cookie, negative deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: Path, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")}
	switch {
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	case maxAge < 0:
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// login serves the login form (GET) and checks it (POST): OPS_TOKEN as the
// password, the operator's name for the audit log.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if h.auth.open {
		http.Redirect(w, r, Path, http.StatusSeeOther)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.render(w, r, http.StatusOK, "login", session{}, loginView{Next: safeNext(r.URL.Query().Get("next"))})
		return
	case http.MethodPost:
	default:
		allow(w, r, http.MethodPost)
		return
	}
	if !h.csrfOK(w, r) {
		return
	}
	next := safeNext(r.PostFormValue("next"))
	name, ok := operatorName(r.PostFormValue("operator"))
	if !ok {
		h.render(w, r, http.StatusBadRequest, "login", session{}, loginView{Next: next,
			Error: "Give your name (1-64 characters): the audit log says who did what."})
		return
	}
	if !h.auth.tokenOK(r.PostFormValue("token")) {
		h.c.Log.OpsDenied(r.Context(), telemetry.ReasonUnauthorized, "wrong OPS_TOKEN at login", remoteAddr(r))
		h.render(w, r, http.StatusUnauthorized, "login", session{}, loginView{Next: next, Operator: name,
			Error: "Wrong token."})
		return
	}
	setCookie(w, r, sessionCookie, h.auth.newSession(name), SessionLife)
	h.c.Log.OpsAction(r.Context(), telemetry.OpsLogin, name, remoteAddr(r), "session", -1, nil)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s session) {
	if !s.Open {
		setCookie(w, r, sessionCookie, "", -1)
		h.c.Log.OpsAction(r.Context(), telemetry.OpsLogout, s.Operator, remoteAddr(r), "session", -1, nil)
	}
	http.Redirect(w, r, Path+"/login", http.StatusSeeOther)
}

// operatorName cleans a name typed at login: trimmed, 1-64 characters,
// no control characters.
func operatorName(s string) (string, bool) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n == 0 || n > maxOperator || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return "", false
	}
	return s, true
}

// safeNext is where a login returns to: a path of the page, never
// another site.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(next, "//") ||
		(u.Path != Path && !strings.HasPrefix(u.Path, Path+"/")) || strings.ContainsAny(next, "\\\r\n") {
		return Path
	}
	return next
}

// remoteAddr is the client's address as OPS_ACTION logs it, with what a
// proxy said in X-Forwarded-For.
func remoteAddr(r *http.Request) string {
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		addr += " (X-Forwarded-For " + xff + ")"
	}
	return addr
}
