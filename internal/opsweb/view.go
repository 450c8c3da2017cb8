package opsweb

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/inspect"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// overviewView is the data of the overview and its live part.
type overviewView struct {
	At          time.Time
	Instances   []instanceView
	Shards      []shardView
	Active      int // shards with an ACTIVE instance
	Rate        inspect.Rate
	Debug       debugView
	DeadLetters []inspect.DeadLetter
	DLQTotal    int64
	Err         string // Redis could not be read
}

type instanceView struct {
	ID, Role, Shards, Addr, Version, Up string
	TTLms                               int64
	Self                                bool // the instance serving the page
}

type shardView struct {
	Shard           int
	Node, Holder    string
	Token           int64
	TTLms, TTLMaxms int64
	Length, Pending int64
	Oldest          string
	OldestWarn      bool // the oldest entry waits for more than a minute
	DeadLetters     int64
}

type debugView struct {
	On    bool
	Until time.Time // zero: no expiry
	Err   string
}

type traceView struct {
	CID   string
	Chain chainView
	Err   string
	Poll  bool // a cid: the live part follows its chain as events arrive
}

type userView struct {
	Query  string
	ID     int64
	Chains []chainView
	Debug  debugView
	Err    string
}

// chainView is one chain: its timeline, and for a resend the original's.
type chainView struct {
	CID      string
	Timeline timeline
	Note     string    // what the journal did not keep of the chain
	Original string    // cid of the original of a resend
	Orig     *timeline // nil when no resend or the original's events are not kept
	OrigNote string
	Outcome  string
	Bad      bool
	When     string
}

// timeline is a chain of events laid out in one lane per instance.
type timeline struct {
	CID                      string
	UpdateID, UserID, ChatID string
	Type                     string
	Lanes                    []lane // instances, in order of appearance
	LaneClass                string // lanes-N (at most maxLanes)
	Rows                     []row
	Total                    string // first to last event
	Reasons                  []string
}

// lane is one instance's column of a timeline.
type lane struct{ Name, Class string }

// maxLanes is the most lanes drawn side by side; more instances share them.
const maxLanes = 6

type row struct {
	Gap                          string // a pause before this event ("" none)
	Offset                       string // since the first event
	TS                           string
	Lane                         string // lane-N
	Instance, Role, Domain, Name string
	Level, Reason                string
	Bad                          bool // warn, error, or a reason code
	Details                      []detail
}

type detail struct {
	Key, Value string
	Reason     bool // reason_code, reason_text, the states: what explains it
}

// readOverview reads everything the overview shows; a Redis failure is in
// Err and the rest is what could be read.
func (h *Handler) readOverview(ctx context.Context) overviewView {
	now := h.c.Now()
	ov := overviewView{At: now}
	st, err := h.c.Inspector.Status(ctx)
	if err != nil {
		ov.Err = err.Error()
		return ov
	}
	ttlMax := h.c.LeaseTTL.Milliseconds()
	// roles from the leases just read, not from the heartbeats (written
	// every TTL/3, so up to that late)
	held := map[string][]string{}
	for _, s := range st.Shards {
		if s.Holder != "" {
			held[s.Holder] = append(held[s.Holder], strconv.Itoa(s.Shard))
		}
	}
	for _, in := range st.Instances {
		iv := instanceView{ID: in.ID, Role: telemetry.RolePassive, Addr: in.Addr, Version: in.Version,
			TTLms: in.TTL.Milliseconds(), Self: in.ID == h.c.Instance, Shards: strings.Join(held[in.ID], ",")}
		if len(held[in.ID]) > 0 {
			iv.Role = telemetry.RoleActive
		}
		if !in.Started.IsZero() {
			iv.Up = short(now.Sub(in.Started).Truncate(time.Second))
		}
		ov.Instances = append(ov.Instances, iv)
	}
	for _, s := range st.Shards {
		sv := shardView{Shard: s.Shard, Node: s.Node, Holder: s.Holder, Token: s.Token,
			TTLms: int64(s.TTLSeconds * 1000), TTLMaxms: max(ttlMax, int64(s.TTLSeconds*1000)),
			Length: s.Length, Pending: s.Pending, DeadLetters: s.DeadLetters}
		if s.Slot != nil {
			sv.Node += " (slot " + strconv.Itoa(*s.Slot) + ")"
		}
		if s.Length > 0 {
			age := time.Duration(s.OldestPendingSec * float64(time.Second))
			sv.Oldest, sv.OldestWarn = short(age.Truncate(time.Millisecond)), age > time.Minute
		}
		if s.Holder != "" {
			ov.Active++
		}
		ov.DLQTotal += s.DeadLetters
		ov.Shards = append(ov.Shards, sv)
	}
	if c, err := h.c.Inspector.Counters(ctx, now); err == nil {
		ov.Rate = h.observe(c)
	}
	ov.Debug = h.readDebug(ctx)
	if ov.DLQTotal > 0 {
		if ov.DeadLetters, err = h.c.Inspector.DeadLetters(ctx, DeadLetterLimit); err != nil {
			ov.Err = err.Error()
		}
	}
	return ov
}

// observe returns the throughput since the previous counters at least a
// second older (every viewer's fetches feed the same sample).
func (h *Handler) observe(c inspect.Counters) inspect.Rate {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.sample.At.IsZero() || c.At.Before(h.sample.At):
		h.sample = c
	case c.At.Sub(h.sample.At) >= time.Second:
		h.rate = inspect.RateBetween(h.sample, c)
		h.sample = c
	}
	return h.rate
}

// chainView lays out a chain and its original's.
func (h *Handler) chainView(ch inspect.Chain) chainView {
	cv := chainView{CID: ch.CID, Timeline: layout(ch.CID, ch.Events), Note: ch.Note, Original: ch.Original,
		OrigNote: ch.OriginalNote}
	cv.Outcome, cv.Bad = outcome(ch.Events)
	if len(ch.Events) > 0 {
		cv.When = ch.Events[0].Time().UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if ch.Original != "" {
		cv.Outcome, cv.Bad = "resend of "+ch.Original, false
		if len(ch.OriginalEvents) > 0 {
			t := layout(ch.Original, ch.OriginalEvents)
			cv.Orig = &t
			o, bad := outcome(ch.OriginalEvents)
			cv.Outcome, cv.Bad = cv.Outcome+": "+o, bad
		}
	}
	return cv
}

// outcome says how a chain ended: its first refusal or failure with its
// reason code, else its last event.
func outcome(evs []telemetry.JournalEvent) (string, bool) {
	for _, e := range evs {
		if rc := e.Str(telemetry.FReasonCode); rc != "" {
			return e.Name() + " " + rc, true
		}
	}
	if len(evs) == 0 {
		return "no events", true
	}
	last := evs[len(evs)-1]
	lvl := last.Str(telemetry.FLevel)
	return last.Name(), lvl == "warn" || lvl == "error"
}

// layout puts events (oldest first) in lanes, one per instance, and marks
// the pauses longer than GapAfter and the events that explain an outcome.
func layout(cid string, evs []telemetry.JournalEvent) timeline {
	t := timeline{CID: cid}
	if len(evs) == 0 {
		return t
	}
	first := evs[0]
	t.UpdateID, t.UserID, t.ChatID = value(first[telemetry.FUpdateID]), value(first[telemetry.FUserID]), value(first[telemetry.FChatID])
	lane := map[string]int{}
	t0, prev := first.Time(), first.Time()
	for _, e := range evs {
		if ut := e.Str(telemetry.FUpdateType); ut != "" && t.Type == "" {
			t.Type = ut
		}
		in := e.Instance()
		if _, ok := lane[in]; !ok {
			lane[in] = len(t.Lanes)
			t.Lanes = append(t.Lanes, laneOf(in, len(t.Lanes)))
		}
		r := row{Offset: "+" + offset(e.Time().Sub(t0)), TS: e.TS(), Lane: laneOf(in, lane[in]).Class,
			Instance: in, Role: e.Str(telemetry.FRole), Domain: e.Str(telemetry.FDomain), Name: e.Name(),
			Level: e.Str(telemetry.FLevel), Reason: e.Str(telemetry.FReasonCode)}
		if gap := e.Time().Sub(prev); gap >= GapAfter {
			r.Gap = short(gap.Truncate(time.Millisecond))
		}
		prev = e.Time()
		r.Bad = r.Reason != "" || r.Level == "warn" || r.Level == "error"
		if r.Reason != "" {
			t.Reasons = append(t.Reasons, r.Reason)
		}
		for _, k := range telemetry.DetailKeys(e) {
			r.Details = append(r.Details, detail{Key: k, Value: value(e[k]), Reason: explains[k]})
		}
		t.Rows = append(t.Rows, r)
	}
	t.LaneClass = fmt.Sprintf("lanes-%d", min(len(t.Lanes), maxLanes))
	t.Total = short(prev.Sub(t0))
	return t
}

func laneOf(instance string, i int) lane {
	return lane{Name: instance, Class: fmt.Sprintf("lane-%d", i%maxLanes)}
}

// explains are the fields that say why something was refused.
var explains = map[string]bool{telemetry.FReasonCode: true, telemetry.FReasonText: true,
	telemetry.FExpectedState: true, telemetry.FActualState: true, telemetry.FErrorType: true, telemetry.FErrorText: true}

// value is a journal value as text: arrays joined by commas.
func value(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = value(p)
		}
		return strings.Join(parts, ",")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// short writes a duration for a person: 850ms, 2.3s, 4m10s.
func short(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return d.Truncate(time.Second).String()
}

// offset writes the time since a chain's first event: 0.4ms, 12ms, 2.3s.
func offset(d time.Duration) string {
	if d < 10*time.Millisecond {
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + "ms"
	}
	return short(d)
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"rate": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"secs": func(ms int64) string { return strconv.FormatFloat(float64(ms)/1000, 'f', 1, 64) + "s" },
	"clock": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("15:04:05 UTC")
	},
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"err": func(dl inspect.DeadLetter) string {
		return strings.TrimSpace(dl.ErrorType + " " + dl.Error)
	},
	"debugForm": func(d debugView, csrf string, user int64) debugForm {
		return debugForm{Debug: d, CSRF: csrf, User: user}
	},
}

// debugForm is the data of the debug-mode switch: the state, the CSRF
// token, and the user page to come back to (0: the overview).
type debugForm struct {
	Debug debugView
	CSRF  string
	User  int64
}
