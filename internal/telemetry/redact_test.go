package telemetry

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const (
	testToken  = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_x"
	testSecret = "wh-Secret_0123456789abcdef"
)

// recordSink keeps what a Logger hands its Sink.
type recordSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *recordSink) Record(e Entry) {
	line := e.JSON()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, string(line))
}

func (s *recordSink) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// httpErrorWithToken returns the error the HTTP client gives for a Bot API
// URL that holds the token in its path and, escaped, in its query.
func httpErrorWithToken(t *testing.T) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens: connection refused
	c := &http.Client{Timeout: 2 * time.Second}
	u := "http://" + addr + "/bot" + testToken + "/sendMessage?secret=" + url.QueryEscape(testSecret) +
		"&t=" + url.QueryEscape(testToken)
	resp, err := c.Get(u)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err)
	require.Contains(t, err.Error(), testToken, "the raw error holds the token (precondition)")
	return fmt.Errorf("telegram: sendMessage: %w", err)
}

// leaks reports any piece of a secret in out: the whole, its escaped forms,
// or any 8 consecutive characters of its secret part.
func leaks(out string) []string {
	var found []string
	for _, s := range []string{testToken, testSecret} {
		part := s
		if i := strings.IndexByte(s, ':'); i >= 0 {
			part = s[i+1:] // the bot id before ':' is public
		}
		for i := 0; i+8 <= len(part); i++ {
			if strings.Contains(out, part[i:i+8]) {
				found = append(found, part[i:i+8])
			}
		}
		if strings.Contains(out, url.QueryEscape(s)) {
			found = append(found, url.QueryEscape(s))
		}
	}
	return found
}

func TestSecretsNeverReachTheOutput(t *testing.T) {
	herr := httpErrorWithToken(t)
	for _, format := range []string{FormatJSON, FormatKV} {
		t.Run(format, func(t *testing.T) {
			sink := &recordSink{}
			l, buf := newTestLogger(t, format, func(o *Options) {
				o.Secrets = []string{testToken, testSecret}
				o.Sink = sink
				o.Level = zapcore.DebugLevel
			})
			ctx := WithUpdate(context.Background(), testUpdate)
			// the token placed so that a 64-rune cut falls inside it
			cut := strings.Repeat("x", MaxUserText-20) + testToken
			l.TelegramAPIError(ctx, "sendMessage", 0, 0, herr)
			l.DispatchFail(ctx, time.Second, "*url.Error", herr, 0, 7, 1)
			l.LeaseRenewFailed(0, 7, "node-a", herr)
			l.CallbackReceived(ctx, cut)
			l.ParamInput(ctx, "prompt", "my token is "+testToken)
			l.CallbackRejected(ctx, ReasonDBError, cut, "", "")
			l.WebhookRejected(ctx, ReasonUnauthorized, 401, "got secret "+testSecret)
			l.Service(zapcore.WarnLevel, EvRedisError, "failed: "+herr.Error(), zap.Error(herr))
			l.Zap().Error("request to "+testToken+" failed", zap.Error(herr), zap.String("url", "/bot"+testToken))
			l.Lib(DomainTelegram).Errorf("telego: %v", herr)
			l.Lib(DomainTelegram).Debugf("request: %s", "https://api.telegram.org/bot"+testToken+"/getMe")
			l.Debug(ctx, EvDispatchStart, zap.String("raw", url.PathEscape(testToken)))

			out := buf.String()
			lines := splitLines(t, out)
			require.Len(t, lines, 12)
			require.Empty(t, leaks(out), "secret in output:\n%s", out)
			require.Contains(t, out, Redacted)
			for _, line := range lines {
				_, err := parseLine(format, line)
				require.NoError(t, err, line)
			}
			journal := sink.all()
			require.NotEmpty(t, journal)
			require.Empty(t, leaks(journal), "secret in journal lines:\n%s", journal)
		})
	}
}

func TestRedactorForms(t *testing.T) {
	r := newRedactor([]string{"", testToken})
	for _, in := range []string{testToken, url.QueryEscape(testToken), url.PathEscape(testToken), fmt.Sprintf("%q", testToken)} {
		require.NotContains(t, r.String("a "+in+" b"), "AAHdqTcv", in)
	}
	require.Equal(t, "plain", r.String("plain"))
	require.Nil(t, newRedactor(nil))
	require.Equal(t, "x", (*redactor)(nil).String("x"))
}
