package dispatcher

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/fsm"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// Reject's options reach the REJECTED event, through a Router and without
// one: States the expected and actual screens, Cause the reason_text
// while the user is told the text.
func TestRejectOptions(t *testing.T) {
	r := NewRouter()
	r.Callback("old", func(c *Context) error {
		c.Reject(ReasonStateMismatch, TextExpired, States("MODEL_PICK", "MAIN_MENU"))
		return nil
	})
	r.Callback("db", func(c *Context) error {
		c.Reject(ReasonDBError, TextServerError, Cause(errors.New("redis: connection refused")))
		return nil
	})
	rg := newRig(t, r)
	require.NoError(t, rg.dispatch(t, press(1, "v1:old")))
	require.NoError(t, rg.dispatch(t, press(2, "v1:db")))
	ev := rg.logs.Events("CALLBACK_REJECTED")
	require.Len(t, ev, 2)
	require.Equal(t, "STATE_MISMATCH", ev[0]["reason_code"])
	require.Equal(t, "MODEL_PICK", ev[0]["expected_state"])
	require.Equal(t, "MAIN_MENU", ev[0]["actual_state"])
	require.Equal(t, "DB_ERROR", ev[1]["reason_code"])
	require.Equal(t, "redis: connection refused", ev[1]["reason_text"])
	require.Equal(t, []string{TextExpired, TextServerError}, answers(rg.bot), "the user reads the text, not the cause")

	plain := newRig(t, HandlerFunc(func(c *Context) error {
		c.Reject(ReasonStateMismatch, TextExpired, States("ASK", "NONE"))
		return nil
	}))
	require.NoError(t, plain.dispatch(t, press(3, "v1:x")))
	ev = plain.logs.Events("CALLBACK_REJECTED")
	require.Len(t, ev, 1)
	require.Equal(t, "ASK", ev[0]["expected_state"])
	require.Equal(t, "NONE", ev[0]["actual_state"])
}

// Commit writes the transition and the job in one fenced script: the job
// is on the shard's jobs stream exactly when the state moved; a stale
// revision writes neither. The param and job events are logged.
func TestCommitQueuesTheJobWithTheTransition(t *testing.T) {
	var rev int64
	h := HandlerFunc(func(c *Context) error {
		c.ParamInput("prompt", "a fox")
		c.ParamAccepted("prompt", "a fox")
		c.ParamRejected("size", ReasonValidationFailed, "pick a button")
		st, id, err := c.Commit(rev, fsm.State{Screen: "MAIN_MENU"}, &fsm.Job{Fields: []string{"job_id", "j1"}})
		if err != nil {
			return err
		}
		require.NotEmpty(t, id)
		rev = st.Rev
		c.JobQueued("j1")
		c.Accept("MAIN_MENU")
		return nil
	})
	rg := newRig(t, h)
	rev = fsm.AnyRev
	require.NoError(t, rg.dispatch(t, message(1, "go")))
	ctx := context.Background()
	jobs := rg.ks.Shard(0).Jobs()
	n, err := rg.rc.XLen(ctx, jobs).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	require.Len(t, rg.logs.Events("JOB_QUEUED"), 1)
	require.Len(t, rg.logs.Events("PARAM_INPUT"), 1)
	require.Len(t, rg.logs.Events("PARAM_ACCEPTED"), 1)
	require.Len(t, rg.logs.Events("PARAM_VALIDATION_FAILED"), 1)

	rev-- // stale: another write came first
	err = rg.dispatch(t, message(2, "go"))
	_, stale := fsm.IsStale(err)
	require.True(t, stale, "%v", err)
	n, err = rg.rc.XLen(ctx, jobs).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "no job without its transition")

	rg.valid.Store(false)
	rev = fsm.AnyRev
	require.ErrorIs(t, rg.dispatch(t, message(3, "go")), ErrNotActive)
	n, _ = rg.rc.XLen(ctx, jobs).Result()
	require.EqualValues(t, 1, n, "a fenced commit queues nothing")
}

type journalStub struct {
	chains map[string][]telemetry.JournalEvent
	debug  map[int64]time.Duration
}

func (j *journalStub) Chain(_ context.Context, cid string) ([]telemetry.JournalEvent, error) {
	return j.chains[cid], nil
}

func (j *journalStub) LastCIDs(_ context.Context, _ int64, n int) ([]string, error) {
	return []string{"0000beef", "0000cafe"}[:n], nil
}

func (j *journalStub) NotKept(_ context.Context, cid string, _ int64) (string, error) {
	return "evicted " + cid, nil
}

func (j *journalStub) DebugUser(_ context.Context, user int64, d time.Duration) (time.Time, error) {
	j.debug[user] = d
	return time.Unix(0, 0), nil
}

type debugStub struct{ spans []time.Duration }

func (d *debugStub) EnableDebug(_ context.Context, span time.Duration) (time.Time, error) {
	d.spans = append(d.spans, span)
	return time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC), nil
}

// The journal view reads what the instance's journal keeps; without a
// journal it is nil and without a debug switch EnableDebug says so.
func TestJournalViewAndDebugSwitch(t *testing.T) {
	var got struct {
		cids  []string
		chain []JournalEvent
		dup   string
		note  string
		until time.Time
	}
	h := HandlerFunc(func(c *Context) error {
		j := c.Journal()
		if j == nil {
			_, err := c.EnableDebug(time.Minute)
			require.ErrorIs(t, err, ErrNoDebugSwitch)
			require.False(t, c.HasDebugSwitch())
			return nil
		}
		var err error
		got.cids, err = j.LastCIDs(42, 2)
		require.NoError(t, err)
		got.chain, err = j.Chain("0000beef")
		require.NoError(t, err)
		got.dup = DuplicateOf(got.chain)
		got.note, err = j.NotKept("0000beef", 42)
		require.NoError(t, err)
		_, ok, err := j.DebugUser(42, time.Minute)
		require.True(t, ok)
		require.NoError(t, err)
		got.until, err = c.EnableDebug(30 * time.Minute)
		require.NoError(t, err)
		c.DebugPanelShown(42)
		return nil
	})
	none := newRig(t, h)
	require.NoError(t, none.dispatch(t, message(1, "/debug")))

	rg := newRig(t, h)
	js := &journalStub{debug: map[int64]time.Duration{}, chains: map[string][]telemetry.JournalEvent{"0000beef": {
		{"name": "DUPLICATE_UPDATE", "cid": "0000beef", "original_cid": "0000f00d", "instance": "i1", "ts": "2026-12-03T10:00:00.5Z"}}}}
	ds := &debugStub{}
	e := rg.env(t)
	e.Journal, e.Debug = js, ds
	require.NoError(t, rg.dispatch(t, message(2, "/debug")))
	require.Equal(t, []string{"0000beef", "0000cafe"}, got.cids)
	require.Len(t, got.chain, 1)
	require.Equal(t, "DUPLICATE_UPDATE", got.chain[0].Name())
	require.Equal(t, "i1", got.chain[0].Instance())
	require.Equal(t, time.Date(2026, 12, 3, 10, 0, 0, 5e8, time.UTC), got.chain[0].Time())
	require.Equal(t, "0000f00d", got.dup)
	require.Equal(t, "evicted 0000beef", got.note)
	require.Equal(t, time.Minute, js.debug[42])
	require.Equal(t, []time.Duration{30 * time.Minute}, ds.spans)
	require.Len(t, rg.logs.Events("DEBUG_MODE_CHANGED"), 1)
	require.Len(t, rg.logs.Events("DEBUG_PANEL_SHOWN"), 1)
}
