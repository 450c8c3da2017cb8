// Package callback is the callback-data codec of the dispatcher's router:
// what a button carries back when it is pressed, typed, versioned and
// checked against Telegram's 64-byte limit before a keyboard is sent.
//
// Grammar (at most 64 bytes):
//
//	data   = "v1:" action *( ":" arg ) [ "@" tag ]
//	action = 1*24( a-z / 0-9 / "_" )
//	arg    = 1*32( A-Z / a-z / 0-9 / "_" / "." / "-" )   ; at most 4 args
//	tag    = 1*16( A-Z / a-z / 0-9 / "_" / "." / "-" )
//
// dispatcher.Router.Callback routes data by its action; data of another
// shape (written by an older bot, or by hand) is routed by
// dispatcher.Router.CallbackPrefix. Data the router cannot parse and no
// prefix takes ends in CALLBACK_REJECTED with CALLBACK_PARSE_ERROR and an
// answer, before any handler runs.
//
// Codec turns a value of your own type into such data and back, so a
// handler never splits strings.
package callback

import (
	"errors"
	"fmt"

	"github.com/mymmrac/telego"

	"github.com/dispatcher-bot/dispatcher/internal/router"
	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// MaxLen is Telegram's limit for callback data, in bytes.
const MaxLen = 64

// ErrBadData matches every refusal of this codec: wrong version, bad
// characters, too many parts, over MaxLen bytes.
var ErrBadData = router.ErrBadData

// Data is the typed content of a button's callback data.
type Data struct {
	Action string
	Args   []string
	// Tag is opaque to the router: a bot may put the state revision the
	// keyboard was rendered at in it, to refuse a button from an old screen.
	Tag string
}

// Encode returns the data as a string, or an error matching ErrBadData.
func (d Data) Encode() (string, error) {
	return router.Data{Action: telemetry.ButtonID(d.Action), Args: d.Args, Tag: d.Tag}.Encode()
}

// Button returns the button's id as telemetry logs it: the action and
// its arguments, e.g. "pick:3" (the tag left out).
func (d Data) Button() string {
	return string(router.Data{Action: telemetry.ButtonID(d.Action), Args: d.Args}.Button())
}

// Arg returns argument i, or "".
func (d Data) Arg(i int) string {
	if i < 0 || i >= len(d.Args) {
		return ""
	}
	return d.Args[i]
}

// Parse decodes data written by Encode; anything else gives an error
// matching ErrBadData.
func Parse(s string) (Data, error) {
	d, err := router.ParseData(s)
	if err != nil {
		return Data{}, err
	}
	return Data{Action: string(d.Action), Args: d.Args, Tag: d.Tag}, nil
}

// Check returns an error matching ErrBadData when s is longer than MaxLen
// bytes (raw data for CallbackPrefix routes).
func Check(s string) error {
	if len(s) > MaxLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrBadData, len(s), MaxLen)
	}
	if s == "" {
		return fmt.Errorf("%w: empty", ErrBadData)
	}
	return nil
}

// Button returns an inline button with text and d as its data, or an
// error matching ErrBadData.
func Button(text string, d Data) (telego.InlineKeyboardButton, error) {
	s, err := d.Encode()
	if err != nil {
		return telego.InlineKeyboardButton{}, err
	}
	return telego.InlineKeyboardButton{Text: text, CallbackData: s}, nil
}

// Codec maps values of type T to the data of one action and back: To
// gives the arguments of a value, From reads a value from them.
type Codec[T any] struct {
	Action string
	To     func(T) []string
	From   func(args []string) (T, error)
}

// ErrOtherAction is returned by Codec.Decode for data of another action.
var ErrOtherAction = errors.New("callback: data of another action")

// Encode returns v's data, or an error matching ErrBadData (over 64
// bytes, bad characters).
func (c Codec[T]) Encode(v T) (string, error) {
	return Data{Action: c.Action, Args: c.To(v)}.Encode()
}

// Decode reads a value from data s.
func (c Codec[T]) Decode(s string) (T, error) {
	var zero T
	d, err := Parse(s)
	if err != nil {
		return zero, err
	}
	if d.Action != c.Action {
		return zero, fmt.Errorf("%w: %q, not %q", ErrOtherAction, d.Action, c.Action)
	}
	return c.From(d.Args)
}
