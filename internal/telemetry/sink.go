package telemetry

import (
	"encoding/json"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
)

// Sink receives every event about an update (one that carries a cid), as
// an Entry, right after the Logger wrote the event's line. The event
// journal (package journal) is the Sink of an instance's Logger.
//
// Record is called on the logging goroutine: it must not block, and it
// must copy what it keeps, since the Entry's fields are reused once Record
// returns.
type Sink interface {
	Record(e Entry)
}

// Entry is one event about an update as a Sink sees it: the header and the
// update identity decoded, the event's own fields left to EncodeFields.
type Entry struct {
	Time     time.Time
	Level    zapcore.Level
	Name     string // the event name (Event)
	Instance string
	Role     string
	Domain   string
	// Update holds CID, UpdateID, UserID and ChatID (0 when the event has
	// none); Type and Shard are not set.
	Update Update

	fields []zapcore.Field // every field of the line, header first
	red    *redactor
}

// entryBit is the bit of a header or identity key (the fields Entry
// decodes itself), 0 for any other key. A switch, not a map: it runs for
// every field of every event, twice.
func entryBit(key string) uint16 {
	switch key {
	case FTS:
		return 1 << 0
	case FLevel:
		return 1 << 1
	case FName:
		return 1 << 2
	case FInstance:
		return 1 << 3
	case FRole:
		return 1 << 4
	case FDomain:
		return 1 << 5
	case FCID:
		return 1 << 6
	case FUpdateID:
		return 1 << 7
	case FUserID:
		return 1 << 8
	case FChatID:
		return 1 << 9
	}
	return 0
}

// newEntry decodes the header and identity of a line's fields (the first
// occurrence of each key; a later one is an own field).
func newEntry(e zapcore.Entry, instance string, fields []zapcore.Field, red *redactor) Entry {
	en := Entry{Time: e.Time, Level: e.Level, Name: e.Message, Instance: instance, fields: fields, red: red}
	var seen uint16
	for i := range fields {
		f := &fields[i]
		bit := entryBit(f.Key)
		if bit == 0 || seen&bit != 0 {
			continue
		}
		seen |= bit
		switch f.Key {
		case FRole:
			en.Role = f.String
		case FDomain:
			en.Domain = f.String
		case FCID:
			en.Update.CID = f.String
		case FUpdateID:
			en.Update.UpdateID = f.Integer
		case FUserID:
			en.Update.UserID = f.Integer
		case FChatID:
			en.Update.ChatID = f.Integer
		}
	}
	return en
}

// EncodeFields adds the event's own fields (every field but the header and
// the identity) to enc, in the order they were logged, with the configured
// secrets redacted from every text, as in the line.
func (e *Entry) EncodeFields(enc zapcore.ObjectEncoder) {
	if e.red != nil {
		r := redactingPool.Get().(*redactingEncoder)
		r.ObjectEncoder, r.red = enc, e.red
		defer func() { r.ObjectEncoder, r.red = nil, nil; redactingPool.Put(r) }()
		enc = r
	}
	var seen uint16
	for i := range e.fields {
		f := &e.fields[i]
		if bit := entryBit(f.Key); bit != 0 && seen&bit == 0 {
			seen |= bit
			continue
		}
		f.AddTo(enc)
	}
}

// JSON returns the event as the JSON line the json format writes (without
// the newline): every field, secrets redacted.
func (e *Entry) JSON() []byte {
	enc, _ := newEncoder(FormatJSON)
	buf, err := enc.EncodeEntry(zapcore.Entry{}, e.fields)
	if err != nil {
		return nil
	}
	buf = e.red.Buffer(escapeSeparators(buf))
	out := append([]byte(nil), trimNewline(buf.Bytes())...)
	buf.Free()
	return out
}

// FormatTime writes t as the ts of a line does: RFC 3339 in UTC with
// microseconds.
func FormatTime(t time.Time) string { return t.UTC().Format(tsLayout) }

// redactingEncoder removes secrets from every text on its way to the
// wrapped encoder, so that a sink's copy holds no more than the line.
type redactingEncoder struct {
	zapcore.ObjectEncoder
	red *redactor
}

// redactingPool saves EncodeFields the allocation of a redactingEncoder
// made an interface.
var redactingPool = sync.Pool{New: func() any { return new(redactingEncoder) }}

func (r redactingEncoder) AddString(k, v string) { r.ObjectEncoder.AddString(k, r.red.String(v)) }

func (r redactingEncoder) AddByteString(k string, v []byte) {
	r.ObjectEncoder.AddString(k, r.red.String(string(v)))
}

func (r redactingEncoder) AddReflected(k string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return r.ObjectEncoder.AddReflected(k, json.RawMessage(r.red.String(string(b))))
}

func (r redactingEncoder) AddArray(k string, v zapcore.ArrayMarshaler) error {
	return r.ObjectEncoder.AddArray(k, redactingArray{v, r.red})
}

func (r redactingEncoder) AddObject(k string, v zapcore.ObjectMarshaler) error {
	return r.ObjectEncoder.AddObject(k, redactingObject{v, r.red})
}

type redactingArray struct {
	a   zapcore.ArrayMarshaler
	red *redactor
}

func (r redactingArray) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	return r.a.MarshalLogArray(redactingArrayEncoder{enc, r.red})
}

type redactingObject struct {
	o   zapcore.ObjectMarshaler
	red *redactor
}

func (r redactingObject) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	return r.o.MarshalLogObject(redactingEncoder{enc, r.red})
}

type redactingArrayEncoder struct {
	zapcore.ArrayEncoder
	red *redactor
}

func (r redactingArrayEncoder) AppendString(v string) { r.ArrayEncoder.AppendString(r.red.String(v)) }

func (r redactingArrayEncoder) AppendByteString(v []byte) {
	r.ArrayEncoder.AppendString(r.red.String(string(v)))
}

func (r redactingArrayEncoder) AppendReflected(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return r.ArrayEncoder.AppendReflected(json.RawMessage(r.red.String(string(b))))
}

func (r redactingArrayEncoder) AppendArray(v zapcore.ArrayMarshaler) error {
	return r.ArrayEncoder.AppendArray(redactingArray{v, r.red})
}

func (r redactingArrayEncoder) AppendObject(v zapcore.ObjectMarshaler) error {
	return r.ArrayEncoder.AppendObject(redactingObject{v, r.red})
}
