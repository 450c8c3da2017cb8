package fakebot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Messages of Telegram's 409 answers to getUpdates.
const (
	ConflictWebhook  = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
	ConflictPoller   = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
	maxGetUpdatesNum = 100
)

// ErrUpdateID is returned by Queue for an update whose update_id is not
// above every update_id queued before (Telegram's ids only grow).
var ErrUpdateID = errors.New("fakebot: update_id must be above the last one queued")

// polling is the getUpdates side of the fake: updates queued for the bot,
// kept until an offset past them is confirmed, as Telegram keeps them.
type polling struct {
	mu        sync.Mutex
	pending   []queued  // ascending update_id, not yet confirmed
	last      int64     // highest update_id queued
	confirmed int64     // highest offset confirmed (every update below it is forgotten)
	confirmAt time.Time // when it was
	arrived   chan struct{}
	waiter    chan struct{} // closed to end the getUpdates now waiting (another one came in)
	conflicts int           // getUpdates of a client still there ended by another one
	abandoned int           // getUpdates ended by another one after their client had gone
}

// goneGrace is how long a getUpdates ended by another one waits for its
// connection's close to be seen before it counts as a conflict: a client
// that cancelled its request (a poller stopping, then releasing its lease
// to a successor) has closed the connection, but the server sees the close
// a moment later, possibly after the successor's request came in. That
// request's 409 goes to a closed connection: no poller sees it.
const goneGrace = 250 * time.Millisecond

type queued struct {
	id   int64
	typ  string
	body json.RawMessage
}

// Queue adds an update for getUpdates, as Telegram does when a user writes
// to the bot. body is an Update as JSON; without an update_id (or with 0)
// the next one is given to it. It returns the update_id.
func (s *Server) Queue(body []byte) (int64, error) {
	ids, err := s.QueueAll(body)
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// QueueAll queues several updates at once, so that one getUpdates returns
// them together (a batch); nothing is queued when one of them is refused.
func (s *Server) QueueAll(bodies ...[]byte) ([]int64, error) {
	p := &s.polling
	p.mu.Lock()
	defer p.mu.Unlock()
	last := p.last
	var add []queued
	for _, body := range bodies {
		u, err := parseQueued(body, last)
		if err != nil {
			return nil, err
		}
		last = u.id
		add = append(add, u)
	}
	ids := make([]int64, len(add))
	for i, u := range add {
		ids[i] = u.id
	}
	p.last = last
	p.pending = append(p.pending, add...)
	if p.arrived != nil && len(add) > 0 {
		close(p.arrived)
		p.arrived = nil
	}
	return ids, nil
}

// parseQueued reads one update to queue after the update_id last.
func parseQueued(body []byte, last int64) (queued, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return queued{}, fmt.Errorf("fakebot: an update is a JSON object: %v", err)
	}
	var id int64
	if raw, ok := m["update_id"]; ok {
		if err := json.Unmarshal(raw, &id); err != nil {
			return queued{}, fmt.Errorf("fakebot: update_id is not an integer: %w", err)
		}
	}
	typ := ""
	for k := range m {
		if k != "update_id" {
			typ = k
		}
	}
	if id == 0 {
		id = last + 1
		m["update_id"], _ = json.Marshal(id)
		body, _ = json.Marshal(m)
	}
	if id <= last {
		return queued{}, fmt.Errorf("%w (%d), got %d", ErrUpdateID, last, id)
	}
	return queued{id: id, typ: typ, body: append(json.RawMessage(nil), body...)}, nil
}

// Confirmed returns the highest offset a getUpdates has confirmed: every
// update below it has been taken by the bot and is forgotten.
func (s *Server) Confirmed() int64 {
	s.polling.mu.Lock()
	defer s.polling.mu.Unlock()
	return s.polling.confirmed
}

// ConfirmedAt returns Confirmed and when the getUpdates that confirmed it
// arrived (zero before any confirmation).
func (s *Server) ConfirmedAt() (int64, time.Time) {
	s.polling.mu.Lock()
	defer s.polling.mu.Unlock()
	return s.polling.confirmed, s.polling.confirmAt
}

// Pending returns how many queued updates are not confirmed yet.
func (s *Server) Pending() int {
	s.polling.mu.Lock()
	defer s.polling.mu.Unlock()
	return len(s.polling.pending)
}

// Conflicts returns how many getUpdates were ended with 409 because another
// one came in while their client was still waiting for the answer: two
// pollers overlapped. A request whose client had already gone (it cancelled
// it) is counted by Abandoned instead.
func (s *Server) Conflicts() int {
	s.polling.mu.Lock()
	defer s.polling.mu.Unlock()
	return s.polling.conflicts
}

// Abandoned returns how many getUpdates were ended by another one after
// their client had closed the connection (seen within goneGrace).
func (s *Server) Abandoned() int {
	s.polling.mu.Lock()
	defer s.polling.mu.Unlock()
	return s.polling.abandoned
}

// terminated answers a getUpdates that another one ended: 409, counted as a
// conflict unless its client turns out to have gone already.
func (p *polling) terminated(ctx context.Context) (int, map[string]any) {
	gone := false
	t := time.NewTimer(goneGrace)
	select {
	case <-ctx.Done():
		gone = true
	case <-t.C:
	}
	t.Stop()
	p.mu.Lock()
	if gone {
		p.abandoned++
	} else {
		p.conflicts++
	}
	p.mu.Unlock()
	return http.StatusConflict, map[string]any{"ok": false, "error_code": 409, "description": ConflictPoller}
}

// getUpdates answers like Telegram: 409 while a webhook is set; the offset
// confirms (forgets) every update below it; the updates not yet confirmed
// are returned at once, at most limit of them and only of the
// allowed_updates types; with none, the request waits up to timeout seconds
// for one. A getUpdates that arrives while another waits ends the waiting
// one with 409. The call is recorded when it is answered.
func (s *Server) getUpdates(ctx context.Context, params map[string]any) (int, map[string]any) {
	s.mu.Lock()
	webhook := s.webhook != nil
	s.mu.Unlock()
	if webhook {
		return http.StatusConflict, map[string]any{"ok": false, "error_code": 409, "description": ConflictWebhook}
	}
	offset, limit := toInt(params["offset"]), toInt(params["limit"])
	if limit <= 0 || limit > maxGetUpdatesNum {
		limit = maxGetUpdatesNum
	}
	wait := time.Duration(toFloat(params["timeout"]) * float64(time.Second))
	allowed := allowedTypes(params["allowed_updates"])

	p := &s.polling
	p.mu.Lock()
	if p.waiter != nil {
		close(p.waiter) // the waiting request ends with 409, as Telegram's does
	}
	mine := make(chan struct{})
	p.waiter = mine
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.waiter == mine {
			p.waiter = nil
		}
		p.mu.Unlock()
	}()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		p.mu.Lock()
		select {
		case <-mine:
			p.mu.Unlock()
			return p.terminated(ctx)
		default:
		}
		if offset > p.confirmed {
			p.confirmed, p.confirmAt = offset, time.Now().UTC()
			for len(p.pending) > 0 && p.pending[0].id < offset {
				p.pending = p.pending[1:]
			}
		}
		var out []json.RawMessage
		for _, u := range p.pending {
			if len(out) == int(limit) {
				break
			}
			if u.id >= offset && (allowed == nil || allowed[u.typ]) {
				out = append(out, u.body)
			}
		}
		if len(out) > 0 || wait <= 0 {
			p.mu.Unlock()
			if out == nil {
				out = []json.RawMessage{}
			}
			return http.StatusOK, map[string]any{"result": out}
		}
		if p.arrived == nil {
			p.arrived = make(chan struct{})
		}
		arrived := p.arrived
		p.mu.Unlock()
		select {
		case <-arrived:
		case <-mine:
		case <-timer.C:
			wait = 0 // answer what there is (nothing) on the next round
		case <-ctx.Done():
			return http.StatusGatewayTimeout, map[string]any{"ok": false, "error_code": 504, "description": "client gone"}
		}
	}
}

// toFloat reads a number of the params (json.Number, float64 or text).
func toFloat(v any) float64 {
	f, _ := strconv.ParseFloat(fmt.Sprint(v), 64)
	return f
}

// allowedTypes is allowed_updates as a set; nil means every type (absent or
// empty, as Telegram reads it).
func allowedTypes(v any) map[string]bool {
	var list []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				list = append(list, s)
			}
		}
	case string: // form-encoded: a JSON array in a string
		_ = json.Unmarshal([]byte(x), &list)
	}
	if len(list) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, t := range list {
		m[t] = true
	}
	return m
}

// UpdatesHandler queues the update POSTed to it for getUpdates (POST
// /sandbox/updates in sandbox mode) and answers {"ok":true,"update_id":N};
// a body without update_id gets the next one.
func (s *Server) UpdatesHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed: POST an Update", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"ok": false, "description": "body over 1 MiB"})
			return
		}
		id, err := s.Queue(body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false,
				"description": strings.TrimPrefix(err.Error(), "fakebot: ")})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "update_id": id})
	})
}
