package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/testutil/browsertest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/proctest"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// opsToken is the OPS_TOKEN of the browser test's instances.
const opsToken = "e2e-ops-token-0123456789abcdef"

// TestOpsPageInChromium drives the ops page in a real headless Chromium
// against three dispatcher processes on one real redis-server: ops-a
// (ACTIVE, with a fault that panics on one update) and ops-b, ops-c
// (PASSIVE). The browser talks to ops-c only: any instance shows the whole
// deployment. It logs in, sees the ACTIVE instance change after ops-a is
// killed with SIGKILL (without a reload), finds a STATE_MISMATCH by cid and
// by user id, switches debug mode, replays the dead letter ops-a made and
// sees it dispatched, and checks that the page is usable at a phone's width
// and that the browser reported no script error and no refusal by the
// Content-Security-Policy. With DISPATCHER_UPDATE_DOCS=1 it writes the
// screenshots docs/operations.md shows (docs/ops-*.png).
func TestOpsPageInChromium(t *testing.T) {
	br := browsertest.New(t, 1280, 900, 4*time.Minute)
	const user, poison = 7300042, 730009
	e := world.New(t, "", map[string]string{"OPS_TOKEN": opsToken, "MAX_DELIVERIES": "2"})
	a := e.Cluster.Start("ops-a", map[string]string{"DISPATCHER_FAULTS": fmt.Sprintf("panic=%d", poison)})
	a.WaitReady(20 * time.Second)
	require.Equal(t, a, e.Active(10*time.Second, []*proctest.Instance{a}))
	b, c := e.Cluster.Start("ops-b", nil), e.Cluster.Start("ops-c", nil)
	b.WaitReady(20 * time.Second)
	c.WaitReady(20 * time.Second)

	// the report to explain: user 7300042 pressed a button of a menu they
	// had left (posted to PASSIVE ops-b, dispatched by ops-a); a hostile
	// client sent markup as callback data; an update kept failing
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	post := func(body []byte) string {
		t.Helper()
		return postCID(ctx, t, b, body)
	}
	dispatched := func(cid string) {
		t.Helper()
		_, ok := a.WaitLine(10*time.Second, func(l proctest.Line) bool { return l.Name() == "DISPATCH_OK" && l.Str("cid") == cid })
		require.True(t, ok, "cid %s dispatched", cid)
	}
	post(world.StartMessage(730001, user))
	msgID, data := menuOf(t, e.Bot, user)
	dispatched(post(world.Callback(730002, user, msgID, data, "cb-730002")))
	refused := post(world.Callback(730003, user, msgID, data, "cb-730003"))
	dispatched(refused)
	const hostile = `<img src=x onerror="window.__pwned=1">`
	markup := post(world.Callback(730004, user, msgID, hostile, "cb-730004"))
	dispatched(markup)
	post(world.EditedMessage(poison, 4242))
	_, ok := a.WaitLine(20*time.Second, func(l proctest.Line) bool { return l.Name() == "DEAD_LETTERED" })
	require.True(t, ok, "the poison update is dead-lettered after MAX_DELIVERIES=2")
	cliUntil(t, e, []string{"CALLBACK_REJECTED", "DISPATCH_OK"}, "trace", refused) // in the journal

	shots := screenshots(t, br)
	// log in on ops-c
	run(t, br, "the login form", chromedp.Navigate(c.URL("/ops")), chromedp.WaitVisible(chromedp.CSS(`input[name=token]`)))
	run(t, br, "log in",
		chromedp.SendKeys(chromedp.CSS(`input[name=operator]`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), opsToken),
		chromedp.Click(chromedp.CSS(`#login`)),
		chromedp.WaitVisible(chromedp.CSS(`#shards`)))
	until(t, br, 15*time.Second, "ops-a ACTIVE, three instances, one dead letter, the throughput measured", `
		document.querySelector('#shards td.holder').dataset.holder === 'ops-a' &&
		document.querySelectorAll('#instances tr[data-id]').length === 3 &&
		document.querySelector('#n-dead').textContent === '1' &&
		document.querySelector('#dlq tr[data-id]') !== null &&
		document.querySelector('#rate-in').textContent !== '…'`)
	shots.take("ops-overview.png", false)

	// kill -9 the ACTIVE instance: the page, left alone, shows the takeover
	require.True(t, value[bool](t, br, `window.__notReloaded = true`))
	a.Signal(syscall.SIGKILL)
	until(t, br, 15*time.Second, "another instance ACTIVE, ops-a gone, without a reload", `
		window.__notReloaded === true &&
		['ops-b', 'ops-c'].includes(document.querySelector('#shards td.holder').dataset.holder) &&
		document.querySelector('#instances tr[data-id="ops-a"]') === null &&
		document.querySelectorAll('#instances tr[data-role="ACTIVE"]').length === 1`)
	holder := value[string](t, br, `document.querySelector('#shards td.holder').dataset.holder`)
	active := e.Active(10*time.Second, []*proctest.Instance{b, c})
	require.NotNil(t, active)
	require.Equal(t, active.ID, holder, "the page names the instance that /readyz says is ACTIVE")

	// the STATE_MISMATCH, by cid (the search box of the header)
	run(t, br, "search the cid",
		chromedp.SendKeys(chromedp.CSS(`input[name=cid]`), refused),
		chromedp.Submit(chromedp.CSS(`input[name=cid]`)),
		chromedp.WaitVisible(chromedp.CSS(`li.ev[data-reason="STATE_MISMATCH"]`)))
	until(t, br, 5*time.Second, "the chain across ops-b (ingest) and ops-a (dispatch), the reason and states standing out", `
		[...document.querySelectorAll('.lane-head')].map(e => e.textContent).join() === 'ops-b,ops-a' &&
		document.querySelector('li.ev.bad[data-name="CALLBACK_REJECTED"] .reason').textContent === 'STATE_MISMATCH' &&
		document.querySelector('li.ev.bad .kv.why dd').textContent !== '' &&
		document.querySelector('.outcome.bad').textContent === 'CALLBACK_REJECTED STATE_MISMATCH'`)
	shots.take("ops-trace.png", true)

	// markup sent as callback data is shown as text and never runs
	run(t, br, "the hostile callback's trace", chromedp.Navigate(c.URL("/ops/trace?cid="+markup)),
		chromedp.WaitVisible(chromedp.CSS(`li.ev[data-name="CALLBACK_RECEIVED"]`)))
	require.True(t, value[bool](t, br, `window.__pwned === undefined && document.querySelectorAll('main img').length === 0 &&
		document.body.innerText.includes('<img src=x onerror="window.__pwned=1">'.slice(0, 20))`),
		"the callback data is text: %s", value[string](t, br, `document.querySelector('li.ev[data-name="CALLBACK_RECEIVED"]').innerText`))

	// the same refusal by user id, then debug mode on and off
	run(t, br, "search the user",
		chromedp.SendKeys(chromedp.CSS(`input[name=id]`), fmt.Sprint(user)),
		chromedp.Submit(chromedp.CSS(`input[name=id]`)),
		chromedp.WaitVisible(chromedp.CSS(`details.chain[data-cid="`+refused+`"]`)))
	until(t, br, 5*time.Second, "the user's chains, newest first, the refusal among them", `
		document.querySelectorAll('details.chain').length === 4 &&
		document.querySelector('details.chain').dataset.cid === '`+markup+`' &&
		document.querySelector('details.chain[data-cid="`+refused+`"] .outcome.bad').textContent === 'CALLBACK_REJECTED STATE_MISMATCH'`)
	run(t, br, "debug mode on", chromedp.Click(chromedp.CSS(`#debug-on`)), chromedp.WaitVisible(chromedp.CSS(`#debug-state b.on`)))
	for _, in := range []*proctest.Instance{b, c} {
		_, ok := in.WaitLine(5*time.Second, func(l proctest.Line) bool {
			return l.Name() == "DEBUG_MODE_CHANGED" && l["enabled"] == true
		})
		require.True(t, ok, "%s follows the debug flag", in.ID)
	}
	act, ok := c.WaitLine(time.Second, func(l proctest.Line) bool { return l.Name() == "OPS_ACTION" && l.Str("action") == "DEBUG_ON" })
	require.True(t, ok)
	require.Equal(t, "alice", act.Str("operator"))
	require.Equal(t, "ADMIN", act.Str("domain"))
	shots.take("ops-user.png", true)
	run(t, br, "debug mode off", chromedp.Click(chromedp.CSS(`#debug-off`)), chromedp.WaitVisible(chromedp.CSS(`#debug-on`)))

	// replay the dead letter: dispatched by the new ACTIVE instance
	run(t, br, "the dead letters", chromedp.Navigate(c.URL("/ops")), chromedp.WaitVisible(chromedp.CSS(`#dlq button.replay`)))
	run(t, br, "replay", chromedp.Click(chromedp.CSS(`#dlq button.replay`)), chromedp.WaitVisible(chromedp.CSS(`#notice-link`)))
	_, ok = active.WaitLine(15*time.Second, func(l proctest.Line) bool {
		return l.Name() == "DISPATCH_OK" && l.Int("update_id") == poison
	})
	require.True(t, ok, "the replayed update is dispatched by %s", active.ID)
	until(t, br, 10*time.Second, "no dead letter left", `document.querySelector('#no-dead') !== null && document.querySelector('#n-dead').textContent === '0'`)
	act, ok = c.WaitLine(time.Second, func(l proctest.Line) bool { return l.Name() == "OPS_ACTION" && l.Str("action") == "DLQ_REPLAY" })
	require.True(t, ok)
	require.Equal(t, "alice", act.Str("operator"))
	require.EqualValues(t, 1, act.Int("count"))
	run(t, br, "the replayed update's trace", chromedp.Click(chromedp.CSS(`#notice-link`)),
		chromedp.WaitVisible(chromedp.CSS(`li.ev[data-name="DLQ_REPLAYED"]`)))
	until(t, br, 10*time.Second, "dead-lettered, replayed, then dispatched, in that order", `(() => {
		const names = [...document.querySelectorAll('li.ev')].map(e => e.dataset.name);
		const dl = names.indexOf('DEAD_LETTERED'), re = names.indexOf('DLQ_REPLAYED');
		return dl >= 0 && re > dl && names.indexOf('DISPATCH_OK', re) > re && document.querySelector('li.gap') !== null;
	})()`)
	shots.take("ops-replayed.png", true)

	// a phone: one column, nothing wider than the screen but the tables,
	// which scroll in their own box
	run(t, br, "a phone's screen", chromedp.EmulateViewport(390, 844), chromedp.Navigate(c.URL("/ops")),
		chromedp.WaitVisible(chromedp.CSS(`#shards`)))
	require.True(t, value[bool](t, br, `document.documentElement.scrollWidth <= window.innerWidth`),
		"the page is %dpx wide on a 390px screen", value[int](t, br, `document.documentElement.scrollWidth`))
	shots.take("ops-phone.png", false)

	// no secret of the configuration on any page, any instance
	for _, path := range []string{"/ops", "/ops?part=live", "/ops/trace?cid=" + refused, "/ops/user?id=" + fmt.Sprint(user)} {
		body, err := chromedp.Run(br.Ctx, chromedp.Evaluate[string](`fetch('`+path+`', {credentials: 'same-origin'})`+
			`.then(r => r.text()).then(t => t + document.documentElement.outerHTML)`, chromedp.EvalAwaitPromise))
		require.NoError(t, err, path)
		require.Contains(t, body, "dispatcher ops", path)
		for _, secret := range []string{world.BotToken, world.WebhookSecret, opsToken} {
			require.NotContains(t, body, secret, path)
		}
	}

	for _, r := range br.Reports() {
		require.NotContains(t, r, "Content Security Policy", "the page needs nothing its policy forbids")
		require.NotContains(t, r, "exception", "no script error")
		require.NotContains(t, r, "console.error")
	}
	t.Logf("browser reports: %q", br.Reports())
}

// run runs actions in the tab, failing the test with what and the page's
// text when one fails.
func run(t *testing.T, br *browsertest.Browser, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(br.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v\nthe page: %s", what, err, pageText(br))
	}
}

// until waits for the JavaScript expression js to be true in the tab.
func until(t *testing.T, br *browsertest.Browser, timeout time.Duration, what, js string) {
	t.Helper()
	_, err := chromedp.Run(br.Ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(timeout),
		chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		t.Fatalf("%s: not within %s (%v)\nthe page: %s", what, timeout, err, pageText(br))
	}
}

// value evaluates js in the tab.
func value[T any](t *testing.T, br *browsertest.Browser, js string) T {
	t.Helper()
	v, err := chromedp.Run(br.Ctx, chromedp.Evaluate[T](js))
	require.NoError(t, err, js)
	return v
}

func pageText(br *browsertest.Browser) string {
	ctx, cancel := context.WithTimeout(br.Ctx, 2*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	return loc + "\n" + text
}

// shooter writes screenshots into docs/ with DISPATCHER_UPDATE_DOCS=1,
// and only takes them otherwise (so that taking them is tested too).
type shooter struct {
	t  *testing.T
	br *browsertest.Browser
}

func screenshots(t *testing.T, br *browsertest.Browser) *shooter { return &shooter{t: t, br: br} }

// take captures the tab (the whole page when full) as PNG into
// docs/NAME.
func (s *shooter) take(name string, full bool) {
	s.t.Helper()
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100) // 100: PNG
	}
	png, err := chromedp.Run(s.br.Ctx, shot)
	require.NoError(s.t, err, name)
	require.True(s.t, strings.HasPrefix(string(png), "\x89PNG"), "%s is a PNG", name)
	if updateDocs {
		require.NoError(s.t, os.WriteFile(filepath.Join("..", "docs", name), png, 0o644))
		s.t.Logf("wrote docs/%s (%d bytes)", name, len(png))
	}
}
