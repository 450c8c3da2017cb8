// Command bench measures the dispatcher on this machine against the floor
// (Redis itself) and the peer (asynq), and writes docs/BENCHMARKS.md with
// the figures and plots. `make bench` runs it; nothing else does (it is not
// part of `make test` nor CI).
//
// It is its own module so that its dependencies (asynq, gonum/plot) stay
// out of the service's go.mod. Its import path lies under the service's
// module path, so Go lets it import the service's internal packages (the
// rule is on import paths, not modules): the in-process sections run the
// service's own code (ingest.Handler, queue, worker.Pool, lease.Manager,
// telemetry) rather than a copy; the sections over HTTP run the real
// `dispatcher` binary as processes.
//
// Everything runs on one dedicated redis-server started by the bench
// (127.0.0.1, AOF with appendfsync everysec, noeviction: the configuration
// docs/operations.md asks for). Load goes only to 127.0.0.1, every load
// loop is bounded in count and in time, and every process the bench starts
// is stopped by it.
//
// Usage (from the repository root, after `make build`):
//
//	bench -repo . -bin bin/dispatcher -out docs [-runs 5] [-quick] [-only ingest,e2e,peer,failover,poll,memory,profile]
//	bench -repo . -out docs -report-only   # re-render BENCHMARKS.md and the plots from docs/benchmarks.json
//
// Subcommands used by the orchestrator (each runs in its own process so
// that the system under test never shares a Go runtime with the load
// generator): floor, queue, redismem, replica.
package main
