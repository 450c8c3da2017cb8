package telemetry

import (
	"context"
	"strings"
	"testing"

	"github.com/mymmrac/telego"
	"github.com/stretchr/testify/require"
)

// LibLogger plugs into telego and go-redis (redis.SetLogger takes a Printf
// with a context).
var (
	_ telego.Logger = (*LibLogger)(nil)
	_ interface {
		Printf(context.Context, string, ...any)
	} = (*LibLogger)(nil)
)

func TestLibLogger(t *testing.T) {
	l, out := newTestLogger(t, FormatKV, func(o *Options) { o.Secrets = []string{testToken} })
	tg := l.Lib(DomainTelegram)
	tg.Debugf("API call to: %q", "https://api.telegram.org/bot"+testToken+"/getMe")
	require.Empty(t, out.String(), "debug lines only in debug mode")

	l.SetDebug(true)
	tg.Debugf("API call to: %q", "https://api.telegram.org/bot"+testToken+"/getMe")
	l.Lib(DomainDB).Printf(WithUpdate(context.Background(), testUpdate), "redis: %s", "connection pool timeout")
	lines := splitLines(t, out.String())
	require.Len(t, lines, 2)
	require.Contains(t, lines[0], "level=debug name=LIBRARY_LOG instance=node-a role=PASSIVE domain=TELEGRAM msg=")
	require.Contains(t, lines[0], "/bot[REDACTED]/getMe")
	require.NotContains(t, out.String(), strings.Split(testToken, ":")[1])
	require.Contains(t, lines[1], "level=warn name=LIBRARY_LOG instance=node-a role=PASSIVE domain=DB cid=a1b2c3d4")
}
