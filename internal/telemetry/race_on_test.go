//go:build race

package telemetry

// raceEnabled: sync.Pool drops items at random under the race detector, so
// allocation counts of the enabled path are not meaningful.
const raceEnabled = true
