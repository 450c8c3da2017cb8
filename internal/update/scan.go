package update

import (
	"errors"
	"fmt"
)

// ErrNotUpdate is wrapped by Scan's and Decode's errors for a body that is
// not an Update: not a JSON object, or without an integer update_id ≥ 0.
var ErrNotUpdate = errors.New("update: not an Update")

// Info is what ingest and dispatch know of an update without decoding it.
type Info struct {
	UpdateID int64
	// Type is the Bot API name of the update's kind ("message",
	// "callback_query", ...; TypeUnknown for a kind this package does not
	// know). It is one of Types(), never the body's own text.
	Type string
	// ChatID and UserID are the chat and the user the update names, 0 when
	// it names none (see kinds).
	ChatID, UserID int64
}

// span is where a value sits in the body.
type span struct{ from, to int }

// Scan reads an update's Info from its JSON without decoding the rest.
// The body must be one JSON object (whitespace around it allowed) whose
// member "update_id" (the last one, if repeated) is a number written as an
// integer from 0 to 2^63-1; anything else in it, known or not, is
// accepted. The error for any other body wraps ErrNotUpdate and says why.
//
// Member names are matched exactly (escapes read), as Telegram writes
// them, not case-insensitively as encoding/json would. The type is
// the first kind of the taxonomy whose member holds an object; a body with
// none is TypeUnknown, and its chat and user are then looked for in its
// first member holding an object, at chat.id and from.id or user.id.
// Scan validates the whole body as encoding/json would (nesting up to
// 10,000 levels), so every body it accepts decodes at dispatch. It does not
// allocate for a valid body whose member names hold no escapes.
func Scan(body []byte) (Info, error) {
	var (
		info    Info
		haveID  bool
		idErr   error
		found   [len(kinds)]span
		other   span // the first object-valued member of no known kind
		l       = lexer{b: body}
		bestIdx = -1
	)
	if l.peek() != '{' {
		return info, fmt.Errorf("%w: the body is not a JSON object", ErrNotUpdate)
	}
	err := l.object(func(key []byte, escaped bool) error {
		l.ws()
		start := l.i
		v, err := l.value()
		if err != nil {
			return err
		}
		if escaped {
			key = []byte(unescape(key)) // never sent by Telegram: the allocation is fine
		}
		switch k := kindOf(key); {
		case string(key) == "update_id":
			info.UpdateID, idErr = updateID(v)
			haveID = true
		case k >= 0:
			found[k] = span{}
			if v[0] == '{' {
				found[k] = span{start, l.i}
			}
		case other.to == 0 && v[0] == '{':
			other = span{start, l.i}
		}
		return nil
	})
	if err == nil {
		if l.ws(); l.i != len(body) {
			err = l.fail("the end of the body after the object")
		}
	}
	switch {
	case err != nil:
		return Info{}, fmt.Errorf("%w: %w", ErrNotUpdate, err)
	case !haveID:
		return Info{}, fmt.Errorf("%w: no update_id", ErrNotUpdate)
	case idErr != nil:
		return Info{}, fmt.Errorf("%w: update_id %w", ErrNotUpdate, idErr)
	}
	for i := range found {
		if found[i].to > 0 {
			bestIdx = i
			break
		}
	}
	k, obj := unknownKind, []byte(nil)
	switch {
	case bestIdx >= 0:
		k, obj = kinds[bestIdx], body[found[bestIdx].from:found[bestIdx].to]
	case other.to > 0:
		obj = body[other.from:other.to]
	}
	info.Type = k.name
	if obj != nil {
		info.ChatID, info.UserID = ids(obj, k.chat, k.user)
		if bestIdx < 0 && info.UserID == 0 {
			_, info.UserID = ids(obj, nil, userID)
		}
	}
	return info, nil
}

var errNegative = errors.New("is negative")

// updateID reads the value of update_id.
func updateID(v []byte) (int64, error) {
	if c := v[0]; c != '-' && !isDigit(c) {
		return 0, fmt.Errorf("is not a number: %.20s", v)
	}
	n, err := parseInt(v)
	switch {
	case errors.Is(err, errNotInteger):
		return 0, fmt.Errorf("is not an integer: %.20s", v)
	case err != nil:
		return 0, fmt.Errorf("is %w", err)
	case n < 0:
		return 0, errNegative
	}
	return n, nil
}
