package worker

import (
	"strconv"

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
}

// chat is the FIFO of one chat's entries in hand; a single goroutine works
// through it while it is not empty.
type chat struct{ items []*item }

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

// add queues it behind its chat's earlier entries, starting the chat's
// goroutine when the chat had none in hand. Only the reader calls add.
func (r *run) add(it *item) {
	key := chatKey(it.e.Envelope)
	r.mu.Lock()
	c, busy := r.chats[key]
	if !busy {
		c = &chat{}
		r.chats[key] = c
	}
	c.items = append(c.items, it)
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
		delete(r.chats, key)
		return nil
	}
	it := c.items[0]
	c.items[0] = nil
	c.items = c.items[1:]
	return it
}

// work settles the chat's entries one at a time, in order.
func (r *run) work(key string, c *chat) {
	defer r.wg.Done()
	for it := r.next(key, c); it != nil; it = r.next(key, c) {
		r.process(it)
		r.p.release(it.slot)
	}
}
