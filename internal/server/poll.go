package server

import (
	"context"
	"os"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/poll"
)

// newPoller builds the poller of INGEST=poll: every instance contends for
// the poll lease; its holder calls getUpdates and ingests through the
// webhook's own path (s.ingest.Ingest). Nil with INGEST=webhook. The poll
// lease is owned by this process's identity, as the shard leases are.
func (s *Server) newPoller() (*poll.Poller, error) {
	if s.cfg.Ingest != config.IngestPoll {
		return nil, nil
	}
	token, apiURL := s.botAPI()
	faults, _ := ParseFaults(os.Getenv("DISPATCHER_FAULTS")) // New refused a bad one already
	return poll.New(poll.Config{Client: s.redis, Keys: s.keys, Queue: s.queue, Ingest: s.ingest,
		Token: token, APIURL: apiURL, Instance: s.cfg.InstanceID, Owner: s.registry.Owner(), TTL: s.cfg.LeaseTTL, Drain: s.cfg.ShutdownTimeout,
		Timeout: s.cfg.PollTimeout, Log: s.log, Metrics: s.metrics, StallMidBatch: faults.PollStall})
}

// runPoller starts the poller, if any; stop stops intake from it: it ends
// polling (a batch in hand is finished), releases the poll lease so that
// another instance polls at once, and returns once that is done.
func (s *Server) runPoller() (stop func()) {
	if s.poller == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.poller.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}
