package lease

import (
	"errors"
	"fmt"
)

// ErrNotHeld is returned when this instance does not hold a shard's lease
// with the given token, or its step-down deadline has passed.
var ErrNotHeld = errors.New("lease: not held")

// ErrTimeout is returned when a Redis call did not finish within its bound.
var ErrTimeout = errors.New("lease: redis call timed out")

// ErrRunning is returned by Manager.Run when it is already running.
var ErrRunning = errors.New("lease: manager already running")

// ErrBadConfig matches every *ConfigError with errors.Is.
var ErrBadConfig = errors.New("lease: bad config")

// ConfigError is a Config that NewManager refused; Field names the Config
// field at fault.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return "lease: " + e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrBadConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrBadConfig }

func badConfig(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
