package server

import (
	"context"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/lease"
	"github.com/dispatcher-bot/dispatcher/internal/membership"
	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// formatLoop keeps the stream entry format of this instance's appends at
// the newest one every live instance reads (their heartbeats' Reads,
// membership.CommonFormat), so that during a rolling upgrade no instance of
// an earlier version meets an entry it cannot read. It lists the instances
// every heartbeat interval (LEASE_TTL/3): an instance of an earlier version
// that joins later (a rollback) is seen within that interval, and what it
// may meet meanwhile is in docs/queue.md, "Entry formats". With
// STREAM_FORMAT=fields appends keep the format every version reads. Each
// change is logged.
func (s *Server) formatLoop(ctx context.Context) error {
	if s.cfg.StreamFormat == config.StreamFormatFields {
		return nil
	}
	for {
		s.refreshFormat(ctx)
		t := time.NewTimer(s.cfg.LeaseTTL / 3)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// refreshFormat lists the live instances once and sets the format. When
// Redis does not answer it keeps the format: the appends fail then too, and
// the next round lists again.
func (s *Server) refreshFormat(ctx context.Context) {
	var list []membership.InstanceInfo
	err := lease.Bounded(ctx, min(s.cfg.LeaseTTL/6, lease.MaxCallTimeout), func(ctx context.Context) error {
		var err error
		list, err = membership.ListInstances(ctx, s.redis, s.keys)
		return err
	})
	if err != nil || len(list) == 0 {
		return
	}
	format := membership.CommonFormat(list, queue.LatestFormat)
	if format == s.queue.Format() {
		return
	}
	s.queue.SetFormat(format)
	msg := "stream entries are written in the packed format: every live instance reads it"
	if format == queue.FormatFields {
		msg = "stream entries are written with one field per part: a live instance reads no newer format"
	}
	s.log.Service(zapcore.InfoLevel, telemetry.EvServiceReady, msg, zap.Int("stream_format", format), zap.Int("instances", len(list)))
}
