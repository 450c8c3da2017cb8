package forward

import (
	"sync"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/botproxy"
)

// Tracker records what this instance delivered: per chat its latest
// delivery, per callback or inline query id its delivery, so that the
// proxy can name the cid of a call and fence it. Entries are kept for
// Retain after their delivery ended (a bot may call after answering its
// webhook), then dropped by Prune. It implements botproxy.Deliveries.
type Tracker struct {
	mu      sync.Mutex
	chats   map[int64]*entry
	queries map[string]*entry
	now     func() time.Time
}

// Retain is how long a finished delivery still names the cid of later
// calls for its chat or query.
const Retain = 10 * time.Minute

type entry struct {
	d        botproxy.Delivery
	ended    time.Time // zero while running
	answered bool      // a callback query's answer was seen
}

// NewTracker returns an empty Tracker; now is its clock (nil: time.Now).
func NewTracker(now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{chats: map[int64]*entry{}, queries: map[string]*entry{}, now: now}
}

// begin records a delivery starting for chat (0: none) and query id ("":
// none) and returns its entry.
func (t *Tracker) begin(d botproxy.Delivery, chat int64, query string) *entry {
	d.Running = true
	e := &entry{d: d}
	t.mu.Lock()
	defer t.mu.Unlock()
	if chat != 0 {
		t.chats[chat] = e
	}
	if query != "" {
		if old, ok := t.queries[query]; ok && old.answered {
			e.answered = true // a redelivery of a callback already answered
		}
		t.queries[query] = e
	}
	return e
}

// end marks e's delivery ended.
func (t *Tracker) end(e *entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e.d.Running = false
	e.ended = t.now()
}

// ForChat implements botproxy.Deliveries.
func (t *Tracker) ForChat(chatID int64) (botproxy.Delivery, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.chats[chatID]
	if !ok {
		return botproxy.Delivery{}, false
	}
	return e.d, true
}

// ForQuery implements botproxy.Deliveries.
func (t *Tracker) ForQuery(id string) (botproxy.Delivery, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.queries[id]
	if !ok {
		return botproxy.Delivery{}, false
	}
	return e.d, true
}

// Answered implements botproxy.Deliveries.
func (t *Tracker) Answered(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.queries[id]; ok {
		e.answered = true
	}
}

// answered reports whether the query of e was answered.
func (t *Tracker) answered(e *entry) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return e.answered
}

// Prune drops the entries whose delivery ended more than Retain ago.
func (t *Tracker) Prune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	cut := t.now().Add(-Retain)
	for k, e := range t.chats {
		if !e.ended.IsZero() && e.ended.Before(cut) {
			delete(t.chats, k)
		}
	}
	for k, e := range t.queries {
		if !e.ended.IsZero() && e.ended.Before(cut) {
			delete(t.queries, k)
		}
	}
}
