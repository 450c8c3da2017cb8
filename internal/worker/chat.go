package worker

import (
	"strconv"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/queue"
	"github.com/dispatcher-bot/dispatcher/internal/update"
)

// item is one entry in hand; it holds worker slot until it is settled.
type item struct {
	e    queue.Entry
	slot int
	u    *update.Update // decoded at its first dispatch in this term

	failed  bool   // a delivery of it failed in this term
	errType string // last failure
	errText string

	// flood waits (see floodPatience): the first delivery of this term
	// refused with a delay began at floodSince, the longest delay asked is
	// floodWait; notFlood is set by any other failure.
	floodSince time.Time
	floodWait  time.Duration
	notFlood   bool
}

// chat is the FIFO of one chat's entries in hand; a single goroutine works
// through it while it is not empty. A stopped chat (one of its entries was
// left pending) takes no more entries in this term: they are left pending
// behind it.
type chat struct {
	items   []*item
	stopped bool
}

// chatKey is what serializes updates: the chat, else the user, else the
// update alone.
func chatKey(e queue.Envelope) string {
	switch {
	case e.ChatID != 0:
		return "c" + strconv.FormatInt(e.ChatID, 10)
	case e.UserID != 0:
		return "u" + strconv.FormatInt(e.UserID, 10)
	}
	return "x" + strconv.FormatInt(e.UpdateID, 10)
}

// add queues it behind its chat's earlier entries (by stream id: an entry
// found again after a lost read reply goes before the later ones still
// waiting), starting the chat's goroutine when the chat had none in hand.
// Only the reader calls add.
func (r *run) add(it *item) {
	key := chatKey(it.e.Envelope)
	r.mu.Lock()
	c, busy := r.chats[key]
	if busy && c.stopped {
		r.mu.Unlock()
		r.leave(it)
		r.p.release(it.slot)
		return
	}
	r.held[it.e.ID] = true
	if !busy {
		c = &chat{}
		r.chats[key] = c
	}
	i := len(c.items)
	for i > 0 && queue.IDLess(it.e.ID, c.items[i-1].e.ID) {
		i--
	}
	c.items = append(c.items, nil)
	copy(c.items[i+1:], c.items[i:])
	c.items[i] = it
	r.mu.Unlock()
	if !busy {
		r.wg.Add(1)
		go r.work(key, c)
	}
}

// next pops the chat's head, or forgets the chat when it is empty.
func (r *run) next(key string, c *chat) *item {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(c.items) == 0 {
		if !c.stopped {
			delete(r.chats, key)
		}
		return nil
	}
	it := c.items[0]
	c.items[0] = nil
	c.items = c.items[1:]
	return it
}

// finished gives it's worker back; its entry is no longer in hand.
func (r *run) finished(it *item) {
	r.mu.Lock()
	delete(r.held, it.e.ID)
	r.mu.Unlock()
	r.p.release(it.slot)
}

// heldIDs returns the ids of the entries in hand.
func (r *run) heldIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.held))
	for id := range r.held {
		ids = append(ids, id)
	}
	return ids
}

// work settles the chat's entries one at a time, in order. Once one is
// left pending (the run stops or drains), so is every later one of the
// chat, also those read after it: the successor takes them over in order,
// and none overtakes an earlier one waiting for its retry.
func (r *run) work(key string, c *chat) {
	defer r.wg.Done()
	for it := r.next(key, c); it != nil; it = r.next(key, c) {
		settled := r.process(it)
		r.finished(it)
		if !settled {
			r.mu.Lock()
			c.stopped = true
			r.mu.Unlock()
			for it := r.next(key, c); it != nil; it = r.next(key, c) {
				r.leave(it)
				r.finished(it)
			}
			return
		}
	}
}

// leave logs an entry this run leaves pending behind its chat's earlier
// one: PASSIVE_REJECT when the lease ended, nothing on a drain (the
// successor takes it over). The caller gives its worker back.
func (r *run) leave(it *item) {
	if r.ctx.Err() != nil && r.p.hard.Err() == nil {
		r.reject(r.updateCtx(r.ctx, it.e))
	}
}
