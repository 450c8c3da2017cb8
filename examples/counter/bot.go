package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mymmrac/telego"

	"github.com/dispatcher-bot/dispatcher"
	"github.com/dispatcher-bot/dispatcher/callback"
	"github.com/dispatcher-bot/dispatcher/fsm"
)

// Screens (FSM steps) of the bot.
const (
	screenCounter = "COUNTER"
	screenNaming  = "NAMING"
)

// inc is the "+1" button's data.
var inc = callback.Codec[int]{Action: "inc",
	To: func(n int) []string { return []string{strconv.Itoa(n)} },
	From: func(a []string) (int, error) {
		if len(a) != 1 {
			return 0, callback.ErrBadData
		}
		return strconv.Atoi(a[0])
	}}

// add adds ARGV[3] to the chat's counter once per update (ARGV[2]) and
// logs it; it returns the counter.
//
//	KEYS[2] -> the updates applied (set)   KEYS[3] -> the counter
//	KEYS[4] -> the additions, in order (list)
//	ARGV[2] -> update_id                   ARGV[3] -> n
//	ARGV[4] -> expiry of the three keys, ms
var add = dispatcher.NewScript(`
if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then
  return tonumber(redis.call('GET', KEYS[3]) or '0')
end
local n = redis.call('INCRBY', KEYS[3], ARGV[3])
redis.call('RPUSH', KEYS[4], ARGV[3])
for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return n
`)

const keep = 7 * 24 * 3600 * 1000 // ms a counter lives after its last change

// New returns the bot's router.
func New() *dispatcher.Router {
	r := dispatcher.NewRouter()
	r.Command("start", onStart)
	r.Command("add", onAdd)
	r.Command("name", onName)
	dispatcher.HandleCallback(r, inc, onInc)
	r.OnScreen(screenNaming, onNameText, dispatcher.Name("name_text"))
	r.Fallback(func(c *dispatcher.Context) error {
		c.Reject(dispatcher.ReasonUnknownAction, "Try /start, /add N or /name")
		return nil
	})
	return r
}

// count applies n to the update's chat (once per update) and returns the
// counter.
func count(c *dispatcher.Context, n int) (int64, error) {
	chat := strconv.FormatInt(c.ChatID(), 10)
	v, err := c.Run(add, []string{c.Key("seen:" + chat), c.Key("count:" + chat), c.Key("log:" + chat)},
		c.UpdateID(), n, keep)
	if err != nil {
		return 0, err
	}
	total, _ := v.(int64)
	return total, nil
}

func keyboard() (*telego.InlineKeyboardMarkup, error) {
	data, err := inc.Encode(1)
	if err != nil {
		return nil, err
	}
	return &telego.InlineKeyboardMarkup{InlineKeyboard: [][]telego.InlineKeyboardButton{{{Text: "+1", CallbackData: data}}}}, nil
}

func onStart(c *dispatcher.Context) error {
	st, err := c.State()
	if err != nil {
		return fail(c, err)
	}
	// /start always shows the counter, whatever step the user was at
	if st, err = c.SetState(fsm.AnyRev, st.With(screenCounter)); err != nil {
		return fail(c, err)
	}
	total, err := count(c, 0)
	if err != nil {
		return fail(c, err)
	}
	kb, err := keyboard()
	if err != nil {
		return err
	}
	c.Render(screenCounter, "inc:1")
	c.Accept(screenCounter)
	_, err = c.Reply(fmt.Sprintf("%s: %d", title(st), total), kb)
	return err
}

func onAdd(c *dispatcher.Context) error {
	_, args := c.Command()
	n, err := strconv.Atoi(strings.TrimSpace(args))
	if err != nil || n < 1 || n > 1000 {
		c.Reject(dispatcher.ReasonValidationFailed, "Usage: /add N, with N from 1 to 1000")
		return nil
	}
	total, err := count(c, n)
	if err != nil {
		return fail(c, err)
	}
	c.Accept(screenCounter)
	_, err = c.Reply(fmt.Sprintf("count=%d (+%d)", total, n), nil)
	return err
}

func onInc(c *dispatcher.Context, n int) error {
	if n < 1 || n > 1000 {
		c.Reject(dispatcher.ReasonValidationFailed, dispatcher.TextUnknownButton)
		return nil
	}
	total, err := count(c, n)
	if err != nil {
		return fail(c, err)
	}
	c.Accept(screenCounter)
	return c.Answer(fmt.Sprintf("count=%d (+%d)", total, n))
}

func onName(c *dispatcher.Context) error {
	st, err := c.State()
	if err != nil {
		return fail(c, err)
	}
	if _, err := c.SetState(st.Rev, st.With(screenNaming)); err != nil {
		return fail(c, err)
	}
	c.Accept(screenNaming)
	_, err = c.Reply("What is this counter called?", nil)
	return err
}

func onNameText(c *dispatcher.Context) error {
	st, err := c.State()
	if err != nil {
		return fail(c, err)
	}
	name := strings.TrimSpace(c.Text())
	if name == "" || len(name) > 40 {
		c.Reject(dispatcher.ReasonValidationFailed, "A name is 1 to 40 characters")
		return nil
	}
	if _, err := c.SetState(st.Rev, st.With(screenCounter, "name", name)); err != nil {
		return fail(c, err)
	}
	c.Accept(screenCounter)
	_, err = c.Reply("Named "+name+". /start shows it.", nil)
	return err
}

func title(st fsm.State) string {
	if n := st.Get("name"); n != "" {
		return n
	}
	return "Counter"
}

// fail ends a dispatch whose Redis call failed: a lost shard is returned
// as it is (PASSIVE_REJECT, the new holder handles the update), a stale
// state is a STATE_MISMATCH, the rest DB_ERROR.
func fail(c *dispatcher.Context, err error) error {
	switch {
	case dispatcher.IsNotActive(err):
		return err
	case errors.Is(err, fsm.ErrStale):
		c.Reject(dispatcher.ReasonStateMismatch, dispatcher.TextExpired)
		return nil
	}
	c.Reject(dispatcher.ReasonDBError, dispatcher.TextServerError)
	return err
}
