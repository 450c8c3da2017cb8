package chaos

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dispatcher-bot/dispatcher/internal/fakebot"
	"github.com/dispatcher-bot/dispatcher/internal/testutil/world"
)

// load plays Telegram's users: each chat sends its updates one after
// another (the next only once the previous was answered 200, as Telegram
// does per chat), through the driver, which resends on any non-2xx answer or
// timeout. With poll set, Telegram holds them for getUpdates instead (the
// fake Bot API's queue, which numbers updates in the order they come).
type load struct {
	d    *world.Driver
	bot  *fakebot.Server
	poll bool
	ids  atomic.Int64
	ctx  context.Context // bounds every send
	stop chan struct{}   // closed: chats send nothing new
	wg   sync.WaitGroup

	qmu  sync.Mutex // poll: an id is taken and its update queued as one step
	mu   sync.Mutex
	sent []Sent
}

func newLoad(ctx context.Context, d *world.Driver, bot *fakebot.Server, firstID int64, poll bool) *load {
	l := &load{d: d, bot: bot, poll: poll, ctx: ctx, stop: make(chan struct{})}
	l.ids.Store(firstID)
	return l
}

// send makes the next update (with the next update_id) and posts it until
// it is accepted or the load's context ends; with poll it queues it for
// getUpdates (Telegram has it: accepted).
func (l *load) send(make func(id int64) (Sent, []byte)) bool {
	if l.poll {
		l.qmu.Lock()
		defer l.qmu.Unlock()
	}
	s, body := make(l.next())
	l.mu.Lock()
	l.sent = append(l.sent, s)
	l.mu.Unlock()
	if l.poll {
		_, err := l.bot.Queue(body)
		return err == nil
	}
	return l.d.Send(l.ctx, s.UpdateID, body) == nil
}

// next returns the next update_id: ids grow in the order updates are made,
// so one chat's ids grow in its sending order.
func (l *load) next() int64 { return l.ids.Add(1) }

// wait waits pace, or until the load stops; false when it stopped.
func (l *load) wait(pace time.Duration) bool {
	if pace <= 0 {
		select {
		case <-l.stop:
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(pace)
	defer t.Stop()
	select {
	case <-l.stop:
		return false
	case <-t.C:
		return true
	}
}

// edits starts a chat that sends n edited messages (n 0: until the load
// stops), one every pace.
func (l *load) edits(chat int64, n int, pace time.Duration) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for i := 0; n == 0 || i < n; i++ {
			if !l.send(func(id int64) (Sent, []byte) {
				return Sent{UpdateID: id, Chat: chat, Kind: KindEdited}, world.EditedMessage(id, chat)
			}) {
				return
			}
			if !l.wait(pace) {
				return
			}
		}
	}()
}

// clicks starts a chat that clicks a button of a menu it never received
// (an old message), n times: each click is refused as expired and must be
// answered.
func (l *load) clicks(chat int64, n int, pace time.Duration) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for i := 0; n == 0 || i < n; i++ {
			if !l.send(func(id int64) (Sent, []byte) {
				q := fmt.Sprintf("cq-%d", id)
				return Sent{UpdateID: id, Chat: chat, Kind: KindCallback, QueryID: q},
					world.Callback(id, chat, 1, "v1:cat:image@old", q)
			}) {
				return
			}
			if !l.wait(pace) {
				return
			}
		}
	}()
}

// menus starts a chat that sends /start, waits for the main menu, then
// alternates clicks on its first button (the first is accepted, the later
// ones are refused as expired: a user clicking again) with edited
// messages, and starts over with /start every 8 updates, until n updates
// were sent or the load stops.
func (l *load) menus(chat int64, n int, pace time.Duration) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		var msgID int64
		var data string
		seen := 0 // Bot API calls already looked at
		for i := 0; n == 0 || i < n; i++ {
			if i > 0 && !l.wait(pace) {
				return
			}
			var ok bool
			switch {
			case i%8 == 0:
				seen = len(l.bot.Calls())
				if ok = l.send(func(id int64) (Sent, []byte) {
					return Sent{UpdateID: id, Chat: chat, Kind: KindStart}, world.StartMessage(id, chat)
				}); ok {
					msgID, data = l.menuAfter(chat, seen, 60*time.Second)
				}
			case data != "" && i%2 == 1:
				ok = l.send(func(id int64) (Sent, []byte) {
					q := fmt.Sprintf("cq-%d", id)
					return Sent{UpdateID: id, Chat: chat, Kind: KindCallback, QueryID: q},
						world.Callback(id, chat, msgID, data, q)
				})
			default:
				ok = l.send(func(id int64) (Sent, []byte) {
					return Sent{UpdateID: id, Chat: chat, Kind: KindEdited}, world.EditedMessage(id, chat)
				})
			}
			if !ok {
				return
			}
		}
	}()
}

// starts starts a chat that sends /start and then three edited messages,
// over and over, without waiting for the menu: when a /start fails and
// waits for its retry, the chat's later updates wait behind it.
func (l *load) starts(chat int64, n int, pace time.Duration) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for i := 0; n == 0 || i < n; i++ {
			if i > 0 && !l.wait(pace) {
				return
			}
			start := i%4 == 0
			if !l.send(func(id int64) (Sent, []byte) {
				if start {
					return Sent{UpdateID: id, Chat: chat, Kind: KindStart}, world.StartMessage(id, chat)
				}
				return Sent{UpdateID: id, Chat: chat, Kind: KindEdited}, world.EditedMessage(id, chat)
			}) {
				return
			}
		}
	}()
}

// menuAfter waits for a menu sent to chat after the first skip Bot API
// calls and returns its message id and the callback data of its first
// button ("" when none came in time or the load stopped).
func (l *load) menuAfter(chat int64, skip int, timeout time.Duration) (int64, string) {
	want := fmt.Sprint(chat)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := l.bot.Changed()
		calls := l.bot.Calls()
		for _, c := range calls[min(skip, len(calls)):] {
			if id, data, ok := c.Menu(); ok && c.Chat() == want {
				return id, data
			}
		}
		select {
		case <-ch:
		case <-l.stop:
			return 0, ""
		case <-deadline.C:
			return 0, ""
		}
	}
}

// finish stops the chats and waits for the sends in flight to be accepted
// (or for the load's context to end).
func (l *load) finish() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// Sent returns what was posted, in order.
func (l *load) Sent() []Sent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Sent(nil), l.sent...)
}
