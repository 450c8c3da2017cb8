package opsweb

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/debugflag"
	"github.com/dispatcher-bot/dispatcher/internal/inspect"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/logtest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// testToken is the OPS_TOKEN of the tests.
const testToken = "ops-token-0123456789abcdef"

// rig is one ops page on a fresh namespace of the real test Redis, with
// a journal the test fills and a clock it moves.
type rig struct {
	t       *testing.T
	h       *Handler
	srv     *httptest.Server
	c       *redis.Client
	ks      keys.Space
	q       *queue.Queue
	journal *fakeJournal
	debug   *debugflag.Flag
	logs    *logtest.Buffer

	mu  sync.Mutex
	now time.Time
}

// newRig serves the page with OPS_TOKEN token (open: sandbox mode).
func newRig(t *testing.T, token string, open bool) *rig {
	t.Helper()
	c, ns := redistest.Client(t)
	r := &rig{t: t, c: c, ks: keys.New(ns), journal: &fakeJournal{chains: map[string][]telemetry.JournalEvent{},
		users: map[int64][]string{}, notes: map[string]string{}, debugUsers: map[int64]time.Duration{}},
		logs: &logtest.Buffer{}, now: time.Now()}
	log, err := telemetry.New(telemetry.Options{Format: "json", Instance: "node-a", Output: r.logs,
		Secrets: []string{testToken}})
	require.NoError(t, err)
	r.q = queue.New(c, r.ks, queue.Options{Shards: 2, Log: log})
	r.debug = debugflag.New(c, r.ks, nil)
	rc := &redisx.Client{UniversalClient: c, Mode: "single"}
	in := inspect.New(inspect.Config{Redis: rc, Keys: r.ks, Namespace: ns, Shards: 2, Queue: r.q,
		Journal: r.journal})
	r.h, err = New(Config{Inspector: in, Debug: r.debug, Log: log, Token: token, Open: open, Instance: "node-a",
		LeaseTTL: 10 * time.Second, Now: r.clock})
	require.NoError(t, err)
	r.srv = httptest.NewServer(r.h)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

// fakeJournal is a journal the test writes directly, with notes on what
// it did not keep and users in debug mode.
type fakeJournal struct {
	mu         sync.Mutex
	chains     map[string][]telemetry.JournalEvent
	users      map[int64][]string
	notes      map[string]string
	debugUsers map[int64]time.Duration
}

func (j *fakeJournal) NotKept(_ context.Context, cid string, _ int64) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.notes[cid], nil
}

// debugSpan returns the debug mode a user was put in, 0 for none.
func (j *fakeJournal) debugSpan(user int64) time.Duration {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.debugUsers[user]
}

func (j *fakeJournal) DebugUser(_ context.Context, user int64, d time.Duration) (time.Time, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if d < 0 {
		delete(j.debugUsers, user)
		return time.Time{}, nil
	}
	j.debugUsers[user] = d
	return time.Now().Add(d), nil
}

func (j *fakeJournal) Chain(_ context.Context, cid string) ([]telemetry.JournalEvent, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]telemetry.JournalEvent(nil), j.chains[cid]...), nil
}

func (j *fakeJournal) LastCIDs(_ context.Context, user int64, n int) ([]string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	cids := j.users[user]
	return append([]string(nil), cids[:min(n, len(cids))]...), nil
}

// add appends events to cid's chain and puts cid first among the user's.
func (j *fakeJournal) add(cid string, user int64, evs ...telemetry.JournalEvent) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.chains[cid] = append(j.chains[cid], evs...)
	if user != 0 {
		j.users[user] = append([]string{cid}, j.users[user]...)
	}
}

// ev is one journal event of instance at t with fields.
func ev(name, instance string, t time.Time, fields ...any) telemetry.JournalEvent {
	e := telemetry.JournalEvent{telemetry.FName: name, telemetry.FInstance: instance, telemetry.FLevel: "info",
		telemetry.FRole: telemetry.RoleActive, telemetry.FDomain: "QUEUE", telemetry.FTS: t.UTC().Format(time.RFC3339Nano)}
	for i := 0; i+1 < len(fields); i += 2 {
		e[fields[i].(string)] = fields[i+1]
	}
	return e
}

// browser is a client of the rig with a cookie jar, that does not follow
// redirects (the tests look at them).
type browser struct {
	t   *testing.T
	r   *rig
	c   *http.Client
	hdr http.Header // sent with every request
}

func (r *rig) browser() *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(r.t, err)
	return &browser{t: r.t, r: r, hdr: http.Header{}, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request and returns the answer with its body read.
func (b *browser) do(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.r.srv.URL+path, body)
	require.NoError(b.t, err)
	for k, v := range b.hdr {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp, string(out)
}

func (b *browser) get(path string, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	return b.do(http.MethodGet, path, nil, hdr...)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of a page's forms.
func (b *browser) csrf(page string) string {
	b.t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	require.NotNil(b.t, m, "no CSRF token in the page:\n%s", page)
	return m[1]
}

// login logs in as operator and returns the overview.
func (b *browser) login(operator string) string {
	b.t.Helper()
	_, page := b.get(Path + "/login")
	resp, _ := b.do(http.MethodPost, Path+"/login", url.Values{"csrf": {b.csrf(page)}, "operator": {operator},
		"token": {testToken}, "next": {Path}})
	require.Equal(b.t, http.StatusSeeOther, resp.StatusCode)
	resp, page = b.get(Path)
	require.Equal(b.t, http.StatusOK, resp.StatusCode, page)
	return page
}

// post posts form with the CSRF token of page.
func (b *browser) post(path, page string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	form.Set("csrf", b.csrf(page))
	return b.do(http.MethodPost, path, form)
}
