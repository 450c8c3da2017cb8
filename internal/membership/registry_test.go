package membership

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

func TestRegistryRefusesLiveDuplicate(t *testing.T) {
	c, ks := realClient(t)
	const ttl = 1500 * time.Millisecond
	info := func() InstanceInfo {
		return InstanceInfo{Host: "h1", PID: 42, Role: telemetry.RolePassive, Shards: []int{}}
	}
	r1 := NewRegistry(c, ks, "i-1", ttl, info, telemetry.Nop())
	require.NoError(t, r1.Register(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r1.Run(ctx) }()

	// A second process with the same id sees the heartbeat move: refused.
	r2 := NewRegistry(c, ks, "i-1", ttl, nil, telemetry.Nop())
	start := time.Now()
	err := r2.Register(context.Background())
	require.ErrorIs(t, err, ErrDuplicateInstance)
	require.Less(t, time.Since(start), ttl, "decided as soon as the heartbeat moved")
	t.Logf("live duplicate refused after %s", time.Since(start).Round(time.Millisecond))

	list, err := ListInstances(context.Background(), c, ks)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "i-1", list[0].ID)
	require.Equal(t, "h1", list[0].Host)
	require.Equal(t, 42, list[0].PID)
	require.Greater(t, list[0].TTL, time.Duration(0))
	require.WithinDuration(t, time.Now(), list[0].Beat, 5*time.Second)

	// Run removes the entry on shutdown; the id is free at once.
	cancel()
	require.NoError(t, <-done)
	list, err = ListInstances(context.Background(), c, ks)
	require.NoError(t, err)
	require.Empty(t, list)
	require.NoError(t, r2.Register(context.Background()))
}

func TestRegistryReplacesStaleLeftover(t *testing.T) {
	c, ks := realClient(t)
	const ttl = 1500 * time.Millisecond
	// A crashed process left its heartbeat behind (registered, never beat again).
	crashed := NewRegistry(c, ks, "i-1", ttl, nil, telemetry.Nop())
	require.NoError(t, crashed.Register(context.Background()))

	restarted := NewRegistry(c, ks, "i-1", ttl, nil, telemetry.Nop())
	start := time.Now()
	require.NoError(t, restarted.Register(context.Background()))
	took := time.Since(start)
	require.Less(t, took, ttl, "a leftover does not block a restart for a whole TTL")
	t.Logf("restart under the same id after %s (TTL %s)", took.Round(time.Millisecond), ttl)

	// The crashed one, if it came back, finds its id taken.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.ErrorIs(t, crashed.Run(ctx), ErrInstanceTakenOver)
}

func TestRegistryListsSeveral(t *testing.T) {
	c, ks := realClient(t)
	for _, id := range []string{"b", "a", "c"} {
		id := id
		r := NewRegistry(c, ks, id, time.Second, func() InstanceInfo { return InstanceInfo{Addr: id + ":8080"} }, telemetry.Nop())
		require.NoError(t, r.Register(context.Background()))
	}
	list, err := ListInstances(context.Background(), c, ks)
	require.NoError(t, err)
	require.Len(t, list, 3)
	for i, id := range []string{"a", "b", "c"} {
		require.Equal(t, id, list[i].ID)
		require.Equal(t, id+":8080", list[i].Addr)
	}
}

func TestCommonFormat(t *testing.T) {
	both := InstanceInfo{ID: "new", Reads: []int{1, 2}}
	old := InstanceInfo{ID: "old"} // a version before Reads
	three := InstanceInfo{ID: "newer", Reads: []int{1, 2, 3}}
	for _, c := range []struct {
		list   []InstanceInfo
		latest int
		want   int
	}{
		{nil, 2, 1},
		{[]InstanceInfo{both}, 2, 2},
		{[]InstanceInfo{both, both}, 2, 2},
		{[]InstanceInfo{both, old}, 2, 1},
		{[]InstanceInfo{old}, 2, 1},
		{[]InstanceInfo{both, three}, 3, 2},
		{[]InstanceInfo{three}, 2, 2},
		{[]InstanceInfo{three}, 3, 3},
	} {
		require.Equal(t, c.want, CommonFormat(c.list, c.latest), "%+v latest %d", c.list, c.latest)
	}
}

// changes is a change source like lease.Manager.Changed: the channel that
// Changed returns is closed at the next change.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

func (c *changes) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

func (c *changes) change() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
	}
	c.ch = make(chan struct{})
}

// TestRegistryBeatsAtOnceOnAChange: with BeatOnChange, a change of role is
// in the heartbeat (what `dispatcher status` reads) within moments, not at
// the next beat of the interval (ttl/3, 10s here).
func TestRegistryBeatsAtOnceOnAChange(t *testing.T) {
	c, ks := realClient(t)
	var role atomic.Value
	role.Store(telemetry.RolePassive)
	r := NewRegistry(c, ks, "i-1", 30*time.Second, func() InstanceInfo { return InstanceInfo{Role: role.Load().(string)} }, telemetry.Nop())
	var src changes
	r.BeatOnChange(src.Changed)
	require.NoError(t, r.Register(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	roleOf := func() string {
		list, err := ListInstances(context.Background(), c, ks)
		if err != nil || len(list) != 1 {
			return ""
		}
		return list[0].Role
	}
	eventually(t, 3*time.Second, "the first beat", func() bool { return roleOf() == telemetry.RolePassive })
	for _, want := range []string{telemetry.RoleActive, telemetry.RolePassive, telemetry.RoleActive} {
		role.Store(want)
		changed := time.Now()
		src.change()
		eventually(t, 3*time.Second, "the heartbeat shows "+want, func() bool { return roleOf() == want })
		t.Logf("%s in the heartbeat %s after the change", want, time.Since(changed).Round(time.Millisecond))
	}
}
