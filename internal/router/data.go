package router

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// MaxDataLen is Telegram's limit for callback data, in bytes.
const MaxDataLen = 64

// dataVersion opens every callback data string this codec writes.
const dataVersion = "v1"

// Limits of the parts of callback data.
const (
	maxActionLen = 24
	maxArgLen    = 32
	maxTagLen    = 20
	maxArgs      = 4
)

// ErrBadData is returned for callback data this codec did not write or
// cannot write: wrong version, bad characters, too many parts, over 64
// bytes.
var ErrBadData = errors.New("router: bad callback data")

// Data is the typed content of a button's callback data.
//
// Grammar (at most 64 bytes):
//
//	data   = "v1:" action *( ":" arg ) [ "@" tag ]
//	action = 1*24( a-z / 0-9 / "_" )
//	arg    = 1*32( A-Z / a-z / 0-9 / "_" / "." / "-" )   ; at most 4 args
//	tag    = 1*20( A-Z / a-z / 0-9 / "_" / "." / "-" )
//
// Example: Data{Action: "cat", Args: []string{"image"}, Tag: "m1k2"}
// encodes as "v1:cat:image@m1k2". The tag is opaque to the router: the bot
// uses it for the state the keyboard was rendered at.
type Data struct {
	Action telemetry.ButtonID
	Args   []string
	Tag    string
}

// Button returns the id of the button this data stands for: the action
// followed by its arguments, e.g. "cat:image" (the tag is left out).
func (d Data) Button() telemetry.ButtonID {
	if len(d.Args) == 0 {
		return d.Action
	}
	return telemetry.ButtonID(string(d.Action) + ":" + strings.Join(d.Args, ":"))
}

// Arg returns argument i, or "".
func (d Data) Arg(i int) string {
	if i < 0 || i >= len(d.Args) {
		return ""
	}
	return d.Args[i]
}

// Encode returns the callback data string, or ErrBadData (wrapped) when d
// breaks the grammar or the result would exceed MaxDataLen.
func (d Data) Encode() (string, error) {
	if err := d.check(); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(dataVersion)
	b.WriteByte(':')
	b.WriteString(string(d.Action))
	for _, a := range d.Args {
		b.WriteByte(':')
		b.WriteString(a)
	}
	if d.Tag != "" {
		b.WriteByte('@')
		b.WriteString(d.Tag)
	}
	if b.Len() > MaxDataLen {
		return "", fmt.Errorf("%w: %d bytes, limit %d", ErrBadData, b.Len(), MaxDataLen)
	}
	return b.String(), nil
}

// ParseData decodes callback data written by Encode; anything else gives
// ErrBadData (wrapped).
func ParseData(s string) (Data, error) {
	if len(s) > MaxDataLen {
		return Data{}, fmt.Errorf("%w: %d bytes, limit %d", ErrBadData, len(s), MaxDataLen)
	}
	rest, ok := strings.CutPrefix(s, dataVersion+":")
	if !ok {
		return Data{}, fmt.Errorf("%w: not %s data", ErrBadData, dataVersion)
	}
	var d Data
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		d.Tag = rest[i+1:]
		if d.Tag == "" {
			return Data{}, fmt.Errorf("%w: empty tag", ErrBadData)
		}
		rest = rest[:i]
	}
	parts := strings.Split(rest, ":")
	d.Action = telemetry.ButtonID(parts[0])
	if len(parts) > 1 {
		d.Args = parts[1:]
	}
	if err := d.check(); err != nil {
		return Data{}, err
	}
	return d, nil
}

func (d Data) check() error {
	if !validPart(string(d.Action), maxActionLen, false) {
		return fmt.Errorf("%w: action %q", ErrBadData, telemetry.Shorten(string(d.Action)))
	}
	if len(d.Args) > maxArgs {
		return fmt.Errorf("%w: %d arguments, limit %d", ErrBadData, len(d.Args), maxArgs)
	}
	for _, a := range d.Args {
		if !validPart(a, maxArgLen, true) {
			return fmt.Errorf("%w: argument %q", ErrBadData, telemetry.Shorten(a))
		}
	}
	if d.Tag != "" && !validPart(d.Tag, maxTagLen, true) {
		return fmt.Errorf("%w: tag %q", ErrBadData, telemetry.Shorten(d.Tag))
	}
	return nil
}

// validPart reports whether s is 1..max bytes of the allowed characters:
// a-z, 0-9 and "_" for actions; also A-Z, "." and "-" for args and tags.
func validPart(s string, max int, wide bool) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case wide && (c >= 'A' && c <= 'Z' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// ValidArg reports whether s can be a callback data argument (catalog ids
// are checked with it).
func ValidArg(s string) bool { return validPart(s, maxArgLen, true) }
