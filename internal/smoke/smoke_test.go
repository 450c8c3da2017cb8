package smoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func chainLines(cid string, skip string) [][]byte {
	var lines [][]byte
	for _, ev := range []string{"QUEUE_ENQUEUE", "QUEUE_PICK", "DISPATCH_START", "CALLBACK_RECEIVED", "CALLBACK_ROUTED",
		"CALLBACK_ACCEPTED", "UI_RENDER", "ANSWER_CALLBACK_QUERY", "DISPATCH_OK"} {
		if ev == skip {
			continue
		}
		lines = append(lines, []byte(fmt.Sprintf(`{"name":%q,"cid":%q}`, ev, cid)))
	}
	// another update's events never count
	lines = append(lines, []byte(`{"name":"UI_RENDER","cid":"ffffffff"}`))
	return lines
}

func TestCheckPassesOnTheWholeChain(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, Check(chainLines("a1b2c3d4", ""), "a1b2c3d4", &out))
	require.Contains(t, out.String(), "PASS: Full callback chain detected")
	require.Equal(t, len(Chain)+1, strings.Count(out.String(), "\n"))
}

func TestCheckFailsWhenAnyEventIsMissing(t *testing.T) {
	for _, ev := range Chain {
		var out bytes.Buffer
		err := Check(chainLines("a1b2c3d4", string(ev)), "a1b2c3d4", &out)
		require.True(t, errors.Is(err, ErrChainIncomplete), "without %s", ev)
		require.Contains(t, err.Error(), string(ev))
		require.Contains(t, out.String(), "❌ "+string(ev))
		require.NotContains(t, out.String(), "PASS")
	}
}

func TestRunInProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, Run(ctx, &out), out.String())
	require.Contains(t, out.String(), "PASS: Full callback chain detected")
}
