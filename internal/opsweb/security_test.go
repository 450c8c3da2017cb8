package opsweb

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// every path of the page, with the method it takes
var allPaths = []struct{ method, path string }{
	{http.MethodGet, Path}, {http.MethodGet, Path + "/"}, {http.MethodGet, Path + "?part=live"},
	{http.MethodGet, Path + "/trace?cid=a1b2c3d4"}, {http.MethodGet, Path + "/user?id=42"},
	{http.MethodGet, Path + "/login"}, {http.MethodPost, Path + "/login"}, {http.MethodPost, Path + "/logout"},
	{http.MethodPost, Path + "/dlq"}, {http.MethodPost, Path + "/debug"},
	{http.MethodGet, Path + "/assets/ops.js"}, {http.MethodGet, Path + "/assets/ops.css"}, {http.MethodGet, Path + "/nothing"},
}

// TestNoTokenMeansNotFound: without OPS_TOKEN, outside sandbox mode, the
// page does not exist, whatever is asked.
func TestNoTokenMeansNotFound(t *testing.T) {
	r := newRig(t, "", false)
	b := r.browser()
	for _, p := range allPaths {
		resp, _ := b.do(p.method, p.path, url.Values{})
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s", p.method, p.path)
		require.Empty(t, resp.Header.Get("Set-Cookie"), "%s %s sets no cookie", p.method, p.path)
	}
}

// TestSandboxIsOpen: in sandbox mode without OPS_TOKEN the page needs no
// login, but its POSTs still need the CSRF token.
func TestSandboxIsOpen(t *testing.T) {
	r := newRig(t, "", true)
	b := r.browser()
	resp, page := b.get(Path)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, `id="n-instances"`)
	require.NotContains(t, page, "Log out", "nobody to log out")
	resp, _ = b.get(Path + "/login")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "no login form")

	resp, _ = b.do(http.MethodPost, Path+"/debug", url.Values{"mode": {"on"}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token")
	resp, _ = b.post(Path+"/debug", page, url.Values{"mode": {"on"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	ev := r.logs.Events(string(telemetry.EvOpsAction))
	require.Len(t, ev, 1)
	require.Equal(t, "sandbox", ev[0][telemetry.FOperator])
}

// TestBearerToken: OPS_TOKEN as a bearer token opens every page; any other
// value is refused with 401 and logged.
func TestBearerToken(t *testing.T) {
	r := newRig(t, testToken, false)
	b := r.browser()
	for _, scheme := range []string{"Bearer ", "bearer "} {
		resp, page := b.get(Path, "Authorization", scheme+testToken)
		require.Equal(t, http.StatusOK, resp.StatusCode, scheme)
		require.Contains(t, page, operatorBearer)
	}
	for _, wrong := range []string{"Bearer " + testToken[:len(testToken)-1], "Bearer " + testToken + "x",
		"Bearer ", "Basic " + testToken, "Bearer " + strings.ToUpper(testToken)} {
		resp, page := b.get(Path, "Authorization", wrong)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, wrong)
		require.NotContains(t, page, testToken)
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
	}
	denied := r.logs.Events(string(telemetry.EvOpsDenied))
	require.Len(t, denied, 5)
	require.Equal(t, string(telemetry.ReasonUnauthorized), denied[0][telemetry.FReasonCode])
	require.NotContains(t, r.logs.String(), testToken, "the token is never logged")
}

// TestTokenComparison: the comparison is of SHA-256 digests with
// subtle.ConstantTimeCompare, so it costs the same whatever is presented,
// whatever its length; here its answers.
func TestTokenComparison(t *testing.T) {
	a, err := newAuth(testToken, false, time.Now)
	require.NoError(t, err)
	require.Len(t, a.token, 32, "the token is kept as its digest only")
	require.True(t, a.tokenOK(testToken))
	for _, s := range []string{"", testToken[:1], testToken[:len(testToken)-1], testToken + "0", " " + testToken,
		strings.Repeat("x", 10000)} {
		require.False(t, a.tokenOK(s), "%q", s)
	}
	closed, err := newAuth("", false, time.Now)
	require.NoError(t, err)
	require.False(t, closed.tokenOK(""), "no token: nothing matches, the empty string neither")
	require.False(t, closed.enabled())
}

// TestLoginSession: the login form's password is OPS_TOKEN; a login sets an
// HttpOnly, SameSite=Strict session cookie limited to /ops (Secure behind
// HTTPS), logs OPS_ACTION LOGIN with the operator's name, and brings the
// operator back where they were going.
func TestLoginSession(t *testing.T) {
	r := newRig(t, testToken, false)
	b := r.browser()
	resp, _ := b.get(Path + "/trace?cid=a1b2c3d4")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, Path+"/login?next=%2Fops%2Ftrace%3Fcid%3Da1b2c3d4", resp.Header.Get("Location"))
	resp, _ = b.get(Path+"?part=live", "Accept", "text/html")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a fragment is not redirected: the script says to log in")

	resp, page := b.get(Path + "/login?next=%2Fops%2Ftrace%3Fcid%3Da1b2c3d4")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	csrf := b.csrf(page)
	form := func(token string) url.Values {
		return url.Values{"csrf": {csrf}, "operator": {"alice"}, "token": {token}, "next": {"/ops/trace?cid=a1b2c3d4"}}
	}
	resp, page = b.do(http.MethodPost, Path+"/login", form("not-the-token-at-all"))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, page, "Wrong token.")
	require.Empty(t, cookieOf(resp, sessionCookie))
	require.Len(t, r.logs.Events(string(telemetry.EvOpsDenied)), 1)

	resp, page = b.do(http.MethodPost, Path+"/login", url.Values{"csrf": {csrf}, "operator": {" \t"}, "token": {testToken}})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "a name is required")
	require.Contains(t, page, "Give your name")

	resp, _ = b.do(http.MethodPost, Path+"/login", form(testToken), "X-Forwarded-For", "203.0.113.9")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/ops/trace?cid=a1b2c3d4", resp.Header.Get("Location"))
	c := cookieOf(resp, sessionCookie)
	require.NotNil(t, c)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.Equal(t, Path, c.Path)
	require.False(t, c.Secure, "plain HTTP")
	require.Equal(t, int(SessionLife/time.Second), c.MaxAge)
	require.NotContains(t, c.Value, testToken)
	login := r.logs.Events(string(telemetry.EvOpsAction))
	require.Len(t, login, 1)
	require.Equal(t, telemetry.OpsLogin, login[0][telemetry.FAction])
	require.Equal(t, "alice", login[0][telemetry.FOperator])
	require.Equal(t, "127.0.0.1 (X-Forwarded-For 203.0.113.9)", login[0][telemetry.FRemoteAddr])

	resp, page = b.get(Path)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, "alice")

	// behind a TLS proxy the cookies are Secure
	https := r.browser()
	resp, page = https.get(Path+"/login", "X-Forwarded-Proto", "https")
	require.True(t, cookieOf(resp, csrfCookie).Secure)
	resp, _ = https.do(http.MethodPost, Path+"/login", url.Values{"csrf": {https.csrf(page)}, "operator": {"bob"},
		"token": {testToken}}, "X-Forwarded-Proto", "https")
	require.True(t, cookieOf(resp, sessionCookie).Secure)

	// log out: the cookie is deleted
	_, page = b.get(Path)
	resp, _ = b.post(Path+"/logout", page, url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, -1, cookieOf(resp, sessionCookie).MaxAge)
	resp, _ = b.get(Path)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "logged out")
}

// TestSessionCannotBeForged: a session is valid only as signed, with the
// key of this OPS_TOKEN, until it expires.
func TestSessionCannotBeForged(t *testing.T) {
	r := newRig(t, testToken, false)
	b := r.browser()
	b.login("alice")
	u, _ := url.Parse(r.srv.URL + Path)
	value := b.c.Jar.Cookies(u)[0].Value
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == sessionCookie {
			value = c.Value
		}
	}
	payload, sig, _ := strings.Cut(value, ".")
	other, err := newAuth("another-token-0123456789", false, r.clock)
	require.NoError(t, err)
	forged := map[string]string{
		"empty":           "",
		"no signature":    payload,
		"bad signature":   payload + "." + sig[:len(sig)-2] + "AA",
		"other payload":   b64.EncodeToString([]byte("\x7f\xff\xff\xff\xff\xff\xff\xffmallory")) + "." + sig,
		"other key":       other.newSession("mallory"),
		"garbage":         "%%%.%%%",
		"signature alone": "." + sig,
	}
	for name, v := range forged {
		c := r.browser()
		resp, _ := c.get(Path, "Cookie", sessionCookie+"="+v)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, name)
	}
	resp, _ := r.browser().get(Path, "Cookie", sessionCookie+"="+value)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the real one")
	r.advance(SessionLife + time.Second)
	resp, _ = r.browser().get(Path, "Cookie", sessionCookie+"="+value)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "expired")
}

// TestCSRFOnEveryPost: each POST needs the CSRF token of its browser's
// cookie and must not come from another site; refusals are 403 and logged
// as OPS_DENIED FORBIDDEN.
func TestCSRFOnEveryPost(t *testing.T) {
	r := newRig(t, testToken, false)
	b := r.browser()
	page := b.login("alice")
	good := b.csrf(page)
	posts := map[string]url.Values{
		Path + "/debug":  {"mode": {"on"}},
		Path + "/dlq":    {"op": {"drop"}, "id": {"0/1-1"}},
		Path + "/logout": {},
		Path + "/login":  {"operator": {"alice"}, "token": {testToken}},
	}
	stranger := r.browser() // its own CSRF cookie: a token of another browser
	_, spage := stranger.get(Path + "/login")
	cases := []struct {
		name  string
		token string
		hdr   []string
	}{
		{"no token", "", nil},
		{"wrong token", "AAAA" + good[4:], nil},
		{"another browser's token", stranger.csrf(spage), nil},
		{"from another origin", good, []string{"Origin", "https://evil.example"}},
		{"from an opaque origin", good, []string{"Origin", "null"}},
		{"cross-site fetch", good, []string{"Sec-Fetch-Site", "cross-site"}},
	}
	denied := 0
	for path, form := range posts {
		for _, c := range cases {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if c.token != "" {
				f.Set("csrf", c.token)
			}
			resp, body := b.do(http.MethodPost, path, f, c.hdr...)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s: %s", path, c.name)
			require.Contains(t, body, "forbidden")
			denied++
		}
	}
	ev := r.logs.Events(string(telemetry.EvOpsDenied))
	require.Len(t, ev, denied)
	for _, e := range ev {
		require.Equal(t, string(telemetry.ReasonForbidden), e[telemetry.FReasonCode])
	}
	on, _ := r.debugOn()
	require.False(t, on, "no refused POST acted")
	require.Len(t, r.logs.Events(string(telemetry.EvOpsAction)), 1, "the login only")

	// the same origin, with the token: accepted
	resp, _ := b.do(http.MethodPost, Path+"/debug", url.Values{"csrf": {good}, "mode": {"on"}},
		"Origin", r.srv.URL, "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	on, _ = r.debugOn()
	require.True(t, on)
}

// TestNoSecretsInThePage: no page or fragment shows OPS_TOKEN (nor any
// other configuration value: the page is given none).
func TestNoSecretsInThePage(t *testing.T) {
	r := newRig(t, testToken, false)
	b := r.browser()
	b.login("alice")
	r.journal.add("a1b2c3d4", 42, ev("QUEUE_ENQUEUE", "node-a", time.Now(), telemetry.FUserID, "42"))
	for _, p := range []string{Path, Path + "?part=live", Path + "/trace?cid=a1b2c3d4", Path + "/user?id=42",
		Path + "/user?id=42&part=live", Path + "/login", Path + "/assets/ops.js"} {
		_, body := b.get(p)
		require.NotContains(t, body, testToken, p)
	}
}

// TestUserTextIsEscaped: callback data, texts and errors that users (or
// their clients) chose are shown as text, never as markup.
func TestUserTextIsEscaped(t *testing.T) {
	r := newRig(t, "", true)
	b := r.browser()
	const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	now := time.Now()
	r.journal.add("a1b2c3d4", 42,
		ev("CALLBACK_RECEIVED", "node-a", now, telemetry.FCallbackData, hostile, telemetry.FUserID, "42"),
		ev("CALLBACK_REJECTED", "node-<b>b</b>", now.Add(time.Millisecond), telemetry.FReasonCode, "STATE_MISMATCH",
			telemetry.FReasonText, hostile, telemetry.FExpectedState, hostile, hostile, hostile))
	for _, p := range []string{Path + "/trace?cid=a1b2c3d4", Path + "/user?id=42", Path + "/user?id=42&part=live"} {
		_, body := b.get(p)
		require.NotContains(t, body, "<script>alert", p)
		require.NotContains(t, body, "<img src=x", p)
		require.NotContains(t, body, "<b>b</b>", p)
		require.Contains(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;", p)
	}
	_, body := b.get(Path + "/user?id=" + url.QueryEscape(hostile))
	require.NotContains(t, body, "<script>alert")
	_, body = b.get(Path + "/trace?cid=" + url.QueryEscape(hostile))
	require.NotContains(t, body, "<script>alert")
}

var (
	inlineScript = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>`)
	eventAttr    = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	styleAttr    = regexp.MustCompile(`(?i)\sstyle\s*=|<style`)
)

// TestContentSecurityPolicy: every answer carries the policy, and no page
// needs what it forbids: no inline script, event handler or style.
func TestContentSecurityPolicy(t *testing.T) {
	r := newRig(t, testToken, false)
	b := r.browser()
	check := func(resp *http.Response, body, what string) {
		t.Helper()
		require.Equal(t, csp, resp.Header.Get("Content-Security-Policy"), what)
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), what)
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"), what)
		// same-origin, not no-referrer: under no-referrer Chromium posts the
		// page's forms with Origin: null, which the CSRF check refuses
		require.Equal(t, "same-origin", resp.Header.Get("Referrer-Policy"), what)
		for _, tag := range inlineScript.FindAllString(body, -1) {
			require.Contains(t, tag, `src="/ops/assets/ops.js"`, "%s: only the page's own script", what)
		}
		require.NotRegexp(t, eventAttr, body, what)
		require.NotRegexp(t, styleAttr, body, what)
	}
	resp, body := b.get(Path)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	check(resp, body, "redirect")
	resp, body = b.get(Path + "/login")
	check(resp, body, "login")
	b.login("alice")
	now := time.Now()
	r.journal.add("a1b2c3d4", 42, ev("QUEUE_ENQUEUE", "node-a", now), ev("DISPATCH_OK", "node-b", now.Add(time.Second)))
	for _, p := range []string{Path, Path + "?part=live", Path + "/trace?cid=a1b2c3d4", Path + "/trace?cid=zz",
		Path + "/user?id=42", Path + "/user?id=x", Path + "/assets/ops.js", Path + "/assets/ops.css", Path + "/nope"} {
		resp, body := b.get(p)
		if strings.HasSuffix(p, ".js") {
			require.NotContains(t, body, "eval(")
			require.NotContains(t, body, "new Function")
			body = ""
		}
		check(resp, body, p)
	}
	css, err := assetFS.ReadFile("assets/ops.css")
	require.NoError(t, err)
	require.NotContains(t, string(css), "url(", "no outside resource")
	require.NotContains(t, string(css), "@import")
}

// TestLoginReturnsOnlyToThePage: the login's next is a path of the page,
// never another site.
func TestLoginReturnsOnlyToThePage(t *testing.T) {
	for next, want := range map[string]string{
		"/ops/trace?cid=a1b2c3d4": "/ops/trace?cid=a1b2c3d4", "/ops": "/ops", "": "/ops",
		"https://evil.example/ops": "/ops", "//evil.example/ops": "/ops", "/opsx": "/ops", "/metrics": "/ops",
		"/ops/\\evil": "/ops", "/\\evil.example": "/ops", "javascript:alert(1)": "/ops",
	} {
		require.Equal(t, want, safeNext(next), next)
	}
}

func cookieOf(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (r *rig) debugOn() (bool, error) {
	_, on, err := r.debug.Until(r.t.Context())
	return on, err
}
