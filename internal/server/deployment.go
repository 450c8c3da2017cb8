package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/deployment"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// identity is what this instance is: its mode and its bot as getMe
// described it (botID 0 when getMe did not answer, and in sandbox mode).
type identity struct {
	botID   int64
	botName string
}

// mine is this instance's deployment identity.
func (s *Server) mine() deployment.Identity {
	if s.cfg.Sandbox {
		return deployment.Identity{Mode: deployment.ModeSandbox}
	}
	return deployment.Identity{Mode: deployment.ModeReal, BotID: s.ident.botID}
}

// modeAndBot are the mode and bot of this instance's heartbeat (status).
func (s *Server) modeAndBot() (mode, bot string) {
	mode = s.mine().Mode
	switch {
	case s.ident.botName != "" && s.ident.botID != 0:
		bot = "@" + s.ident.botName + " (" + strconv.FormatInt(s.ident.botID, 10) + ")"
	case s.ident.botName != "":
		bot = "@" + s.ident.botName
	case s.ident.botID != 0:
		bot = strconv.FormatInt(s.ident.botID, 10)
	}
	return mode, bot
}

// checkDeployment records this instance's mode and bot as the namespace's
// deployment, or checks them against the recorded ones before the instance
// registers (so a refused instance never takes a lease): a sandbox instance
// on a real deployment, a real one on a sandbox deployment, or another bot
// is a configuration error (exit 2) whose one line names the cause and its
// reason code; the DEPLOYMENT_REFUSED event carries the code too. Redis
// failures are retried until ctx ends.
func (s *Server) checkDeployment(ctx context.Context) error {
	mine := s.mine()
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
		_, err := deployment.Check(ctx, s.redis, s.keys, mine, time.Now())
		var mm *deployment.MismatchError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &mm):
			cerr := s.refusal(mm)
			s.log.Service(zapcore.ErrorLevel, telemetry.EvDeploymentRefused, cerr.Error(),
				zap.String(telemetry.FReasonCode, string(mm.Reason)), zap.String(telemetry.FReasonText, mm.Error()))
			return cerr
		case !errors.Is(err, deployment.ErrUnavailable):
			return err
		}
		s.log.Service(zapcore.WarnLevel, telemetry.EvRedisError, "could not check the deployment's recorded mode; retrying",
			zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)), zap.Error(err))
		if err := sleepCtx(ctx, backoff); err != nil {
			return err
		}
	}
}

// refusal is the one line that says why this instance may not join.
func (s *Server) refusal(mm *deployment.MismatchError) *config.Error {
	ns, key := s.cfg.Namespace, s.keys.Deployment()
	var v, why string
	switch {
	case mm.Reason == telemetry.ReasonBotMismatch:
		v = "BOT_TOKEN"
		why = fmt.Sprintf("this instance's bot is %d (getMe), but namespace %s records bot %d (key %s): "+
			"two bots need two REDIS_NAMESPACEs", mm.Mine.BotID, ns, mm.Recorded.BotID, key)
	case mm.Recorded.Mode == "":
		v = "SANDBOX"
		why = fmt.Sprintf("this instance runs in sandbox mode, and namespace %s was used by an older version that recorded no mode, "+
			"so it may be a real deployment: a sandbox instance never joins one; use another REDIS_NAMESPACE; if it is a real "+
			"deployment, its first real instance of this version records the mode; if it is a sandbox's, record that: "+
			"redis-cli HSET %s mode sandbox", ns, key)
	case mm.Mine.Mode == deployment.ModeSandbox:
		v = "SANDBOX"
		why = fmt.Sprintf("this instance runs in sandbox mode (a fake Bot API), but namespace %s is a real deployment (key %s): "+
			"a sandbox instance never joins one; use another REDIS_NAMESPACE or Redis for the sandbox, or set BOT_TOKEN", ns, key)
	default:
		v = "SANDBOX"
		why = fmt.Sprintf("this instance runs in real mode, but namespace %s is a sandbox deployment (key %s): "+
			"use another REDIS_NAMESPACE, or delete that key once the sandbox is gone", ns, key)
	}
	return &config.Error{Var: v, Reason: why + " (reason_code=" + string(mm.Reason) + ")"}
}
