package deployment_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dispatcher-bot/dispatcher/internal/deployment"
	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/redistest"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	real    = deployment.Identity{Mode: deployment.ModeReal, BotID: 111}
	other   = deployment.Identity{Mode: deployment.ModeReal, BotID: 222}
	sandbox = deployment.Identity{Mode: deployment.ModeSandbox}
	now     = time.Unix(1764300000, 0)
)

func reason(t *testing.T, err error) telemetry.Reason {
	t.Helper()
	var me *deployment.MismatchError
	require.True(t, errors.As(err, &me), "want a MismatchError, got %v", err)
	require.ErrorIs(t, err, deployment.ErrMismatch)
	return me.Reason
}

// TestFirstInstanceRecordsAndOthersMustMatch: the first instance of a fresh
// namespace records its mode and bot; an instance of the same mode and bot
// joins; one of the other mode, or of another bot, is refused with the
// reason code that names the cause.
func TestFirstInstanceRecordsAndOthersMustMatch(t *testing.T) {
	c, ns := redistest.Client(t)
	ks := keys.New(ns)
	ctx := context.Background()

	rec, err := deployment.Check(ctx, c, ks, real, now)
	require.NoError(t, err)
	require.Equal(t, real, rec)
	got, ok, err := deployment.Read(ctx, c, ks)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, real, got.Identity)
	require.Equal(t, now.UTC(), got.RecordedAt)

	_, err = deployment.Check(ctx, c, ks, real, now.Add(time.Minute))
	require.NoError(t, err, "the same mode and bot join")

	_, err = deployment.Check(ctx, c, ks, sandbox, now)
	require.Equal(t, telemetry.ReasonModeMismatch, reason(t, err))
	require.Contains(t, err.Error(), "this instance runs in sandbox mode, but the deployment records real mode")

	_, err = deployment.Check(ctx, c, ks, other, now)
	require.Equal(t, telemetry.ReasonBotMismatch, reason(t, err))
	require.Contains(t, err.Error(), "bot is 222, but the deployment records bot 111")

	got, _, _ = deployment.Read(ctx, c, ks)
	require.Equal(t, real, got.Identity, "a refused instance changes nothing")
}

// TestSandboxNamespaceRefusesReal: the other way round, a real instance on a
// sandbox deployment's namespace is refused too.
func TestSandboxNamespaceRefusesReal(t *testing.T) {
	c, ns := redistest.Client(t)
	ks := keys.New(ns)
	ctx := context.Background()
	_, err := deployment.Check(ctx, c, ks, sandbox, now)
	require.NoError(t, err, "a fresh namespace takes a sandbox instance")
	_, err = deployment.Check(ctx, c, ks, sandbox, now)
	require.NoError(t, err)
	_, err = deployment.Check(ctx, c, ks, real, now)
	require.Equal(t, telemetry.ReasonModeMismatch, reason(t, err))
}

// TestUpgradeRecordsOnFirstRealStart: a namespace an older version used (its
// shard count recorded, no mode) gets the mode of the first real instance
// of this version; a sandbox instance never records the mode of such a
// namespace, since it cannot tell it from a production one.
func TestUpgradeRecordsOnFirstRealStart(t *testing.T) {
	c, ns := redistest.Client(t)
	ks := keys.New(ns)
	ctx := context.Background()
	require.NoError(t, c.Set(ctx, ks.Shards(), 1, 0).Err(), "an older version ran here")

	_, err := deployment.Check(ctx, c, ks, sandbox, now)
	require.Equal(t, telemetry.ReasonModeMismatch, reason(t, err))
	require.Contains(t, err.Error(), "older version that recorded no mode")
	_, ok, err := deployment.Read(ctx, c, ks)
	require.NoError(t, err)
	require.False(t, ok, "the sandbox instance recorded nothing")

	_, err = deployment.Check(ctx, c, ks, real, now)
	require.NoError(t, err, "the first real instance of the new version records the mode")
	got, ok, _ := deployment.Read(ctx, c, ks)
	require.True(t, ok)
	require.Equal(t, real, got.Identity)
}

// TestBotIDFilledInLater: a real deployment recorded without a bot id
// (getMe never answered and the token had no id) takes the first one known.
func TestBotIDFilledInLater(t *testing.T) {
	c, ns := redistest.Client(t)
	ks := keys.New(ns)
	ctx := context.Background()
	_, err := deployment.Check(ctx, c, ks, deployment.Identity{Mode: deployment.ModeReal}, now)
	require.NoError(t, err)
	rec, err := deployment.Check(ctx, c, ks, real, now)
	require.NoError(t, err)
	require.Equal(t, real, rec)
	_, err = deployment.Check(ctx, c, ks, other, now)
	require.Equal(t, telemetry.ReasonBotMismatch, reason(t, err))
}

func TestBotIDOfToken(t *testing.T) {
	require.Equal(t, int64(123456), deployment.BotIDOfToken("123456:abc"))
	require.Zero(t, deployment.BotIDOfToken(""))
	require.Zero(t, deployment.BotIDOfToken("abc:def"))
}
