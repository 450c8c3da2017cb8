package telemetry

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// TestWithAddsFieldsAndKeepsTheRole: a With logger writes to the same
// output after the event's own fields, follows its parent's role until it
// is given its own, and a role set on it does not change the parent's;
// debug mode switched on the parent applies to it.
func TestWithAddsFieldsAndKeepsTheRole(t *testing.T) {
	l, buf := newTestLogger(t, FormatKV)
	role := RolePassive
	l.SetRole(func() string { return role })
	poll := l.With(zap.String(FLease, "poll"))

	role = RoleActive
	poll.LeaseAcquired(0, 7, "node-a")
	lines := splitLines(t, buf.String())
	require.Len(t, lines, 1)
	p, err := parseLine(FormatKV, lines[0])
	require.NoError(t, err)
	require.Equal(t, []string{FTS, FLevel, FName, FInstance, FRole, FDomain, FShard, FToken, FHolder, FLease}, p.keys)
	require.Equal(t, "poll", p.get(FLease))
	require.Equal(t, RoleActive, p.get(FRole), "the parent's role, read at the time of the line")

	poll.SetRole(func() string { return "OTHER" })
	require.Equal(t, RoleActive, l.Role(), "the parent keeps its own role")
	require.Equal(t, "OTHER", poll.Role())

	require.False(t, poll.Enabled(zap.DebugLevel))
	l.SetDebug(true)
	require.True(t, poll.Enabled(zap.DebugLevel), "one level for both")
}
