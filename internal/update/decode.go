package update

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/mymmrac/telego"
)

// ErrUnsupported is wrapped by Update.Incomplete: telego could not decode
// every part of the update (it was decoded without those parts).
var ErrUnsupported = errors.New("update: payload not fully supported by telego")

// Update is one update as dispatch hands it to a handler.
type Update struct {
	Info
	// Raw is the update's JSON as Telegram sent it, byte for byte.
	Raw []byte
	// Telego is what telego decoded of Raw: all of it when Incomplete is
	// nil, else every part that decodes. Never nil.
	Telego *telego.Update
	// Incomplete is nil when telego decoded all of Raw; else an
	// *IncompleteError (matching ErrUnsupported) naming what was left out.
	Incomplete error
}

// Part is one member or list element of the body that telego could not
// decode.
type Part struct {
	Path string // e.g. "message.forward_origin", "message_reaction.new_reaction[1]"
	Err  string // telego's error for it
}

// IncompleteError lists what Decode left out.
type IncompleteError struct {
	Parts []Part
}

// Error names the parts left out, path first (the log shortens it), with
// telego's error for each; past ten, how many more.
func (e *IncompleteError) Error() string {
	var b strings.Builder
	for i, p := range e.Parts {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e.Parts)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Path)
		b.WriteString(": ")
		b.WriteString(p.Err)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrUnsupported) hold.
func (e *IncompleteError) Unwrap() error { return ErrUnsupported }

var updateType = reflect.TypeOf(telego.Update{})

// decoded is an Update and the telego.Update it decodes into, allocated
// together.
type decoded struct {
	u Update
	t telego.Update
}

// Decode decodes raw, the body of an update whose Info is info (read by
// Scan at ingest), into telego. It fails only for a body that is not a
// JSON object (ErrNotUpdate), which Scan never accepts; every other body
// decodes, with what telego cannot decode left out and named in
// Incomplete. The result's Telego.UpdateID is info.UpdateID.
func Decode(raw []byte, info Info) (*Update, error) {
	if i := skipWS(raw, 0); i == len(raw) || raw[i] != '{' {
		return nil, fmt.Errorf("%w: the body is not a JSON object", ErrNotUpdate)
	}
	d := &decoded{u: Update{Info: info, Raw: raw}}
	u := &d.u
	u.Telego = &d.t
	// A body with no more brackets than maxDecodeDepth nests no deeper, so
	// it needs no cut; and unmarshal validates what it decodes as the
	// lexer does (encoding/json's syntax): when it decodes such a body,
	// the lexer's pass would add nothing.
	shallow := bytes.Count(raw, []byte{'{'})+bytes.Count(raw, []byte{'['}) <= maxDecodeDepth
	var err error
	if shallow {
		if err = unmarshal(raw, u.Telego); err == nil {
			u.Telego.UpdateID = int(info.UpdateID)
			return u, nil
		}
	}
	l := lexer{b: raw}
	if _, lerr := l.value(); lerr != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotUpdate, lerr)
	}
	if l.ws(); l.i != len(raw) {
		return nil, fmt.Errorf("%w: %w", ErrNotUpdate, l.fail("the end of the body after the object"))
	}
	p := pruner{budget: maxTrialWork}
	body := raw
	if l.deepest > maxDecodeDepth {
		body = p.cut(raw, maxDecodeDepth, "")
	}
	if !shallow {
		err = unmarshal(body, u.Telego)
	}
	if err != nil {
		mark := len(p.parts)
		kept, perr := p.prune(updateType, body, "", 0)
		u.Telego = &telego.Update{}
		if perr != nil || len(p.parts) == mark || unmarshal(kept, u.Telego) != nil {
			// not reached with telego's types: an Update decodes once
			// its failing members are gone
			u.Telego = &telego.Update{}
			p.parts = append(p.parts[:mark], Part{Path: "update", Err: err.Error()})
		}
	}
	if len(p.parts) > 0 {
		u.Incomplete = &IncompleteError{Parts: p.parts}
	}
	u.Telego.UpdateID = int(info.UpdateID)
	return u, nil
}

// Parse scans and decodes a body in one call, for callers that have no
// Info from ingest (tests, tools).
func Parse(raw []byte) (*Update, error) {
	info, err := Scan(raw)
	if err != nil {
		return nil, err
	}
	return Decode(raw, info)
}

// Message returns the Message the update carries, when its type is one of
// the message kinds (message, edited_message, channel_post,
// business_message, ...) and it decoded; nil otherwise.
func (u *Update) Message() *telego.Message {
	if u == nil || u.Telego == nil {
		return nil
	}
	for _, k := range kinds {
		if k.name == u.Type && k.message != nil {
			return k.message(u.Telego)
		}
	}
	return nil
}
