// Package browsertest gives a test a headless Chromium driven through the
// DevTools protocol (github.com/chromedp/chromedp), for the pages the
// service serves (the ops page). Only tests import it, so the binary does
// not depend on chromedp.
//
// The browser is Debian's `chromium` (or DISPATCHER_CHROMIUM, a path).
// Without one the test is skipped with a message saying how to get it,
// unless DISPATCHER_REQUIRE_CHROMIUM=1 (set by `make test` and CI, which
// install it), which makes it fail instead.
//
// Each Browser has its own empty profile, is stopped when the test ends,
// and records what the page reports (console messages, uncaught
// exceptions, Content-Security-Policy refusals) so that a test can require
// a clean console.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Environment variables of the package.
const (
	// EnvRequire makes a missing Chromium a failure instead of a skip.
	EnvRequire = "DISPATCHER_REQUIRE_CHROMIUM"
	// EnvPath names the browser binary to use.
	EnvPath = "DISPATCHER_CHROMIUM"
)

// candidates are the names the browser is looked for under, on PATH.
var candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Path returns the browser's path, or skips (fails under EnvRequire=1)
// the test when there is none.
func Path(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvPath); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", EnvPath, p, err)
		}
		return p
	}
	for _, name := range candidates {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	why := "no chromium on PATH (Debian/Ubuntu: apt-get install -y chromium; or set " + EnvPath + ")"
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("headless Chromium required (%s=1): %s", EnvRequire, why)
	}
	t.Skipf("skipping the browser test: %s; `make test` installs it", why)
	return ""
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	// Ctx runs actions in the tab (chromedp.Run(b.Ctx, ...)).
	Ctx context.Context
	mu  sync.Mutex
	// reports of the page: console lines, exceptions, log entries
	reports []string
	out     strings.Builder
}

// New starts a browser whose tab has a window of width x height CSS
// pixels; it is stopped when the test ends. Every action of the test must
// finish within timeout.
func New(t testing.TB, width, height int, timeout time.Duration) *Browser {
	t.Helper()
	path := Path(t)
	b := &Browser{}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.CombinedOutput(&lockedWriter{b: b}),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tctx, cancelTimeout := context.WithTimeout(actx, timeout)
	ctx, cancelTab := chromedp.NewContext(tctx, chromedp.WithListener(b.record))
	t.Cleanup(func() {
		cancelTab()
		cancelTimeout()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium's output:\n%s", b.output())
		}
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v\n%s", path, err, b.output())
	}
	b.Ctx = ctx
	return b
}

func (b *Browser) record(ev any) {
	var line string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		line = "exception: " + e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			line += " " + e.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range e.Args {
			parts = append(parts, string(a.Value)+a.Description)
		}
		line = "console." + string(e.Type) + ": " + strings.Join(parts, " ")
	case *log.EventEntryAdded:
		line = "log " + string(e.Entry.Source) + " " + string(e.Entry.Level) + ": " + e.Entry.Text + " " + e.Entry.URL
	default:
		return
	}
	b.mu.Lock()
	b.reports = append(b.reports, line)
	b.mu.Unlock()
}

// Reports returns what the pages reported so far: console messages,
// uncaught exceptions, and the browser's log entries (a refusal by the
// Content-Security-Policy is one).
func (b *Browser) Reports() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.reports...)
}

func (b *Browser) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

type lockedWriter struct{ b *Browser }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	if w.b.out.Len() < 64<<10 {
		w.b.out.Write(p)
	}
	return len(p), nil
}
