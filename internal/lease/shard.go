package lease

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// runShard is the loop of one shard: PASSIVE, it tries to acquire about
// every RetryEvery (earlier when a release is published or the holder's
// lease is about to expire); ACTIVE, it leads until leadership ends.
func (m *Manager) runShard(ctx context.Context, s *shardState) {
	for ctx.Err() == nil {
		wait := jittered(m.t.RetryEvery)
		wakeable := true
		if m.wants(s.n) {
			res, sent, err := m.tryAcquire(s)
			switch {
			case err != nil:
				m.redisFailed(s, "lease acquisition failed", err)
			case res.Won:
				m.redisOK(s)
				if ctx.Err() != nil { // won while shutting down: give it back at once
					m.setHeld(s, res.Token, sent)
					m.cfg.Log.LeaseAcquired(s.n, res.Token, m.cfg.Instance)
					m.release(s, res.Token)
					return
				}
				m.lead(ctx, s, res.Token, sent)
				// A leadership that just ended does not contend again at
				// once: the others get the lease, and an OnStarted that
				// returns at once cannot make a tight loop.
				wakeable = false
			default:
				m.redisOK(s)
				if res.TTL > 0 && res.TTL < wait {
					// Try right after the holder's lease would expire.
					wait = res.TTL + jittered(m.t.RetryEvery)/20
				}
			}
		}
		wake := s.wake
		if !wakeable {
			wake = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-m.clk.After(wait):
		}
	}
}

// tryAcquire makes one acquisition attempt; sent is its send time.
func (m *Manager) tryAcquire(s *shardState) (acquireResult, time.Time, error) {
	floor := s.maxSeen + 1
	sent := m.clk.Now()
	var res acquireResult
	err := bounded(context.Background(), m.t.CallTimeout, func(ctx context.Context) error {
		r, err := acquireLease(ctx, m.cfg.Client, s.key, m.owner, m.t.TTL, floor)
		res = r
		return err
	})
	if err != nil {
		return acquireResult{}, sent, err
	}
	s.maxSeen = max(s.maxSeen, res.Token)
	return res, sent, nil
}

// lead holds shard s under token from sent on: it runs OnStarted, renews
// every RenewEvery, and ends leadership on step-down, loss, handover or
// shutdown. It returns after OnStopped ran (or was handed to OnStarted's
// goroutine when OnStarted outlived the drain).
func (m *Manager) lead(ctx context.Context, s *shardState, token int64, sent time.Time) {
	m.setHeld(s, token, sent)
	m.cfg.Log.LeaseAcquired(s.n, token, m.cfg.Instance)

	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if m.cfg.OnStarted != nil {
			m.cfg.OnStarted(workCtx, s.n, token)
		}
	}()

	lastSend := sent
	next := sent.Add(m.t.RenewEvery)
	shutdown := ctx.Done()
	workDone := (<-chan struct{})(done)
	var drainUntil time.Time // set once the work has been told to stop
	draining := func() bool { return !drainUntil.IsZero() }
	stopWork := func(now time.Time, bound time.Duration) {
		if !draining() {
			drainUntil = now.Add(bound)
			cancelWork()
		}
	}

	for {
		now := m.clk.Now()
		deadline := lastSend.Add(m.t.StepDownAfter)
		if !now.Before(deadline) {
			cancelWork()
			m.setPassive(s)
			m.cfg.Log.LeaseLost(s.n, token, m.cfg.Instance,
				fmt.Sprintf("no successful renewal for %s (step-down after %s)", now.Sub(lastSend).Round(time.Millisecond), m.t.StepDownAfter))
			// It may still be ours in Redis, but this instance's handlers of
			// the shard may still run: release it (so a successor starts at
			// once) only after OnStarted returned, i.e. they returned or were
			// abandoned, and while the key can still be alive; otherwise it
			// is left to expire, keeping the TTL/3 margin.
			if m.awaitWork(done, lastSend.Add(m.t.TTL)) {
				m.releaseQuietly(s, token)
			}
			m.finish(ctx, s, token, done, drainUntil)
			return
		}
		if draining() && (workDone == nil || !now.Before(drainUntil)) {
			if workDone != nil {
				m.cfg.Log.Service(zapcore.WarnLevel, telemetry.EvServiceStopping,
					"work of the shard outlived the drain; releasing the lease anyway",
					zap.Int(telemetry.FShard, s.n), zap.Int64(telemetry.FToken, token))
			}
			m.release(s, token)
			m.finish(ctx, s, token, done, drainUntil)
			return
		}

		until := next
		if deadline.Before(until) {
			until = deadline
		}
		if draining() && workDone != nil && drainUntil.Before(until) {
			until = drainUntil
		}
		select {
		case <-shutdown:
			shutdown = nil
			stopWork(m.clk.Now(), m.drain)
			continue
		case <-workDone:
			workDone = nil
			stopWork(m.clk.Now(), 0) // the work ended by itself: hand the shard over
			continue
		case <-m.clk.After(until.Sub(now)):
		}

		now = m.clk.Now()
		if now.Before(next) {
			continue
		}
		if !m.wants(s.n) {
			stopWork(now, m.drain) // balancing: hand the shard over once the work stopped
		}
		timeout := min(m.t.CallTimeout, deadline.Sub(now))
		if timeout <= 0 {
			continue
		}
		var res renewResult
		err := bounded(context.Background(), timeout, func(ctx context.Context) error {
			r, err := renewLease(ctx, m.cfg.Client, s.key, m.owner, token, m.t.TTL)
			res = r
			return err
		})
		switch {
		case err != nil:
			m.cfg.Log.LeaseRenewFailed(s.n, token, m.cfg.Instance, err)
			next = m.clk.Now().Add(m.t.RenewRetry)
		case !res.OK:
			cancelWork()
			m.setPassive(s)
			s.maxSeen = max(s.maxSeen, res.Token)
			why := "lease gone from Redis (expired or data lost)"
			if res.Holder != "" {
				why = fmt.Sprintf("lease now held by %s with token %d", res.Holder, res.Token)
			}
			m.cfg.Log.LeaseLost(s.n, token, m.cfg.Instance, why)
			m.finish(ctx, s, token, done, drainUntil)
			return
		default:
			lastSend = now
			m.renewed(s, token, now)
			next = now.Add(m.t.RenewEvery)
		}
	}
}

// release gives up a held lease: PASSIVE first (Valid turns false), then the
// conditional delete and publish with a fresh bounded context.
func (m *Manager) release(s *shardState, token int64) {
	m.setPassive(s)
	var ok bool
	err := bounded(context.Background(), m.t.CallTimeout, func(ctx context.Context) error {
		r, err := releaseLease(ctx, m.cfg.Client, m.cfg.Keys, s.key, m.owner, token)
		ok = r
		return err
	})
	switch {
	case err != nil:
		m.redisFailed(s, "lease release failed; it expires after LEASE_TTL", err)
	case ok:
		m.cfg.Log.LeaseReleased(s.n, token, m.cfg.Instance)
	default:
		m.cfg.Log.LeaseLost(s.n, token, m.cfg.Instance, "lease no longer held at release")
	}
}

// awaitWork waits for OnStarted to return (done), at most until until on
// the manager's clock; it reports whether it returned in time.
func (m *Manager) awaitWork(done <-chan struct{}, until time.Time) bool {
	select {
	case <-done:
		return true
	default:
	}
	left := until.Sub(m.clk.Now())
	if left <= 0 {
		return false
	}
	select {
	case <-done:
		return true
	case <-m.clk.After(left):
		return false
	}
}

// releaseQuietly deletes the lease if Redis still has it under token, after
// a step-down; failures are expected (Redis unreachable) and only debug.
func (m *Manager) releaseQuietly(s *shardState, token int64) {
	err := bounded(context.Background(), m.t.CallTimeout, func(ctx context.Context) error {
		_, err := releaseLease(ctx, m.cfg.Client, m.cfg.Keys, s.key, m.owner, token)
		return err
	})
	if err != nil {
		m.cfg.Log.Service(zapcore.DebugLevel, telemetry.EvRedisError, "release after step-down failed",
			zap.Int(telemetry.FShard, s.n), zap.String(telemetry.FError, err.Error()))
	}
}

// finish waits for OnStarted to return, then calls OnStopped. While Run's
// context is live it waits as long as it takes (the shard stays PASSIVE
// meanwhile); once it is cancelled, at most until drainUntil (or Drain from
// then). If OnStarted is still running after that, OnStopped is left to
// its goroutine.
func (m *Manager) finish(ctx context.Context, s *shardState, token int64, done <-chan struct{}, drainUntil time.Time) {
	select {
	case <-done:
	case <-ctx.Done():
	}
	select {
	case <-done:
	default:
		if drainUntil.IsZero() {
			drainUntil = m.clk.Now().Add(m.drain)
		}
		select {
		case <-done:
		case <-m.clk.After(drainUntil.Sub(m.clk.Now())):
			go func() {
				<-done
				m.stopped(s.n, token)
			}()
			return
		}
	}
	m.stopped(s.n, token)
}

func (m *Manager) stopped(shard int, token int64) {
	if m.cfg.OnStopped != nil {
		m.cfg.OnStopped(shard, token)
	}
}

// redisFailed logs a failed Redis call of a shard once per outage (then at
// debug level until a call succeeds again).
func (m *Manager) redisFailed(s *shardState, msg string, err error) {
	lvl := zapcore.WarnLevel
	if s.failing {
		lvl = zapcore.DebugLevel
	}
	s.failing = true
	m.cfg.Log.Service(lvl, telemetry.EvRedisError, msg,
		zap.Int(telemetry.FShard, s.n), zap.String(telemetry.FReasonCode, string(telemetry.ReasonRedisUnavailable)),
		zap.String(telemetry.FHolder, m.cfg.Instance), zap.String(telemetry.FError, err.Error()))
}

func (m *Manager) redisOK(s *shardState) { s.failing = false }
