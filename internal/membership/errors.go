package membership

import "errors"

// ErrDuplicateInstance is returned by Registry.Register when another live
// instance heartbeats under the same INSTANCE_ID: a configuration error.
var ErrDuplicateInstance = errors.New("membership: duplicate instance id")

// ErrInstanceTakenOver is returned by Registry.Run when another process
// took this instance's id over while it ran (it was paused or cut off for
// longer than the heartbeat's ttl): a runtime failure, the instance stops.
var ErrInstanceTakenOver = errors.New("membership: instance id taken over by another process")

// errBadReply is a script reply of an unexpected shape.
var errBadReply = errors.New("membership: unexpected script reply")
