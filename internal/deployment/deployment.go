// Package deployment records what a deployment is — its mode (real Telegram
// or the sandbox's fake Bot API) and its bot's id — so that an instance of
// another kind cannot join it.
//
// The first instance of a namespace records its mode and bot id in Redis
// (keys.Space.Deployment); every later one compares its own before it
// registers, and one whose mode or bot differs refuses to start. A sandbox
// instance pointed at a production Redis would otherwise take shard leases
// and "answer" real updates into its fake Bot API, acknowledging them.
//
// Upgrade: a namespace used by a version that recorded nothing (its shard
// count or shard 0's stream exists) gets the mode of the first real
// instance of this version; a sandbox instance never records the mode of
// such a namespace (it is refused, MODE_MISMATCH), since it cannot tell a
// sandbox namespace from a production one.
//
// What it does not guarantee: instances of an older version do not check,
// and two instances that start at the same moment on a fresh namespace
// race for the record (the loser is refused, which is the point). The
// record is one hash; deleting it lets the next instance record anew.
package deployment

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dispatcher-bot/dispatcher/internal/keys"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Modes of a deployment.
const (
	ModeReal    = "real"    // a BOT_TOKEN against Telegram (or TELEGRAM_API_URL)
	ModeSandbox = "sandbox" // the built-in fake Bot API
)

// Identity is what a deployment, or one instance, is.
type Identity struct {
	Mode  string `json:"mode"`             // ModeReal or ModeSandbox
	BotID int64  `json:"bot_id,omitempty"` // the bot's id (getMe); 0 when unknown or in sandbox mode
}

func (id Identity) bot() string {
	if id.BotID == 0 {
		return ""
	}
	return strconv.FormatInt(id.BotID, 10)
}

// Errors. A refusal is a *MismatchError, which matches ErrMismatch.
var (
	ErrMismatch    = errors.New("deployment: this instance does not match the deployment")
	ErrUnavailable = errors.New("deployment: redis unavailable")
)

// MismatchError says why an instance may not join the deployment.
type MismatchError struct {
	Reason   telemetry.Reason // MODE_MISMATCH or BOT_MISMATCH
	Recorded Identity         // what the deployment recorded (Mode "" for a namespace of an older version)
	Mine     Identity
}

func (e *MismatchError) Error() string {
	switch {
	case e.Reason == telemetry.ReasonBotMismatch:
		return fmt.Sprintf("this instance's bot is %d, but the deployment records bot %d", e.Mine.BotID, e.Recorded.BotID)
	case e.Recorded.Mode == "":
		return fmt.Sprintf("this instance runs in %s mode, and the namespace was used by an older version that recorded no mode", e.Mine.Mode)
	}
	return fmt.Sprintf("this instance runs in %s mode, but the deployment records %s mode", e.Mine.Mode, e.Recorded.Mode)
}

// Is makes errors.Is(err, ErrMismatch) true.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

//go:embed record.lua
var recordLua string

var recordScript = redis.NewScript(recordLua)

// Check records mine as the deployment of ks's namespace, or compares it
// with the one recorded: it returns the recorded identity, and a
// *MismatchError when mine may not join (a different mode, or a different
// bot where both are known). Redis failures wrap ErrUnavailable.
func Check(ctx context.Context, c redis.UniversalClient, ks keys.Space, mine Identity, now time.Time) (Identity, error) {
	usedArg := "0"
	for _, k := range []string{ks.Shards(), ks.Shard(0).Stream()} { // one key a call: two slots on a Cluster
		n, err := c.Exists(ctx, k).Result()
		if err != nil {
			return Identity{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if n > 0 {
			usedArg = "1"
		}
	}
	res, err := recordScript.Run(ctx, c, []string{ks.Deployment()}, mine.Mode, mine.bot(), usedArg, now.UnixMilli()).StringSlice()
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if len(res) != 3 {
		return Identity{}, fmt.Errorf("%w: record.lua answered %v", ErrUnavailable, res)
	}
	rec := Identity{Mode: res[0]}
	rec.BotID, _ = strconv.ParseInt(res[1], 10, 64)
	switch {
	case res[2] == "unrecorded" || rec.Mode != mine.Mode:
		return rec, &MismatchError{Reason: telemetry.ReasonModeMismatch, Recorded: rec, Mine: mine}
	case rec.BotID != 0 && mine.BotID != 0 && rec.BotID != mine.BotID:
		return rec, &MismatchError{Reason: telemetry.ReasonBotMismatch, Recorded: rec, Mine: mine}
	}
	return rec, nil
}

// Recorded is the deployment as Redis records it, for `dispatcher status`.
type Recorded struct {
	Identity
	RecordedAt time.Time `json:"recorded_at,omitzero"`
}

// Read returns the recorded deployment; ok is false when none is recorded.
func Read(ctx context.Context, c redis.UniversalClient, ks keys.Space) (Recorded, bool, error) {
	h, err := c.HGetAll(ctx, ks.Deployment()).Result()
	if err != nil {
		return Recorded{}, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if h["mode"] == "" {
		return Recorded{}, false, nil
	}
	r := Recorded{Identity: Identity{Mode: h["mode"]}}
	r.BotID, _ = strconv.ParseInt(h["bot_id"], 10, 64)
	if ms, err := strconv.ParseInt(h["recorded_at"], 10, 64); err == nil && ms > 0 {
		r.RecordedAt = time.UnixMilli(ms).UTC()
	}
	return r, true, nil
}

// BotIDOfToken is the bot id a bot token starts with (Telegram's tokens are
// "<bot id>:<secret>"); 0 when it has none.
func BotIDOfToken(token string) int64 {
	for i := 0; i < len(token); i++ {
		if token[i] == ':' {
			id, _ := strconv.ParseInt(token[:i], 10, 64)
			return id
		}
	}
	return 0
}
