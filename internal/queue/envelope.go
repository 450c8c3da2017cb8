package queue

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Envelope is one update as it travels through a shard stream: the raw
// update and what the dispatcher knows about it.
type Envelope struct {
	CID      string // correlation id made at ingest
	UpdateID int64
	Type     string // update type (update.Info.Type)
	ChatID   int64  // 0 when the update names no chat
	UserID   int64  // 0 when the update names no user
	Shard    int    // set by the ingest from ShardOf; filled in on reads
	Payload  []byte // the update's JSON as Telegram sent it
	Ingest   string // instance that ingested it
}

// Stream entry field names.
const (
	fCID     = "cid"
	fUID     = "uid"
	fType    = "type"
	fChat    = "chat"
	fUser    = "user"
	fIngest  = "ingest"
	fPayload = "payload"
	fHeader  = "h" // FormatPacked: cid, chat, user and ingest in one value
)

// Stream entry formats: how an envelope's parts are laid out in a shard
// stream's entry. A reader of this version reads both; which one is
// written is the Queue's (SetFormat), so that an instance of an earlier
// version, which reads FormatFields only, never meets an entry it cannot
// read during a rolling upgrade (the server writes FormatPacked only while
// every live instance says it reads it: docs/queue.md, "Entry formats").
const (
	// FormatFields is one field per part: cid, uid, type, chat, user,
	// ingest, payload. Every version reads it.
	FormatFields = 1
	// FormatPacked is four fields: uid, type, h and payload, where h is cid,
	// chat, user and ingest separated by spaces. Redis handles 4 values an
	// entry instead of 7 at every append and read. An earlier version's
	// reader finds uid, type and payload in it, which its handlers need (its
	// router routes by type), not the cid, chat and user.
	FormatPacked = 2
	// LatestFormat is the newest format this version reads and writes.
	LatestFormat = FormatPacked
)

// Formats returns the entry formats this version reads.
func Formats() []int { return []int{FormatFields, FormatPacked} }

// envelopeValues is the number of values appendValues appends per format.
func envelopeValues(format int) int {
	if format == FormatPacked {
		return 5
	}
	return 7
}

// appendValues appends the envelope's values as the enqueue script takes
// them in format: for FormatFields, the values of the fields cid, uid,
// type, chat, user, ingest and payload, which the script names, in this
// order; for FormatPacked, cid (for the dedupe marker), then the values of
// uid, type, h and payload.
func (e Envelope) appendValues(dst []any, format int) []any {
	uid := strconv.FormatInt(e.UpdateID, 10)
	if format == FormatPacked {
		return append(dst, e.CID, uid, e.Type, e.header(), e.Payload)
	}
	return append(dst, e.CID, uid, e.Type, strconv.FormatInt(e.ChatID, 10),
		strconv.FormatInt(e.UserID, 10), e.Ingest, e.Payload)
}

// header returns FormatPacked's h value: cid, chat, user and ingest,
// separated by single spaces (ingest last: it is read as the rest).
func (e Envelope) header() string {
	b := make([]byte, 0, len(e.CID)+len(e.Ingest)+43)
	b = append(b, e.CID...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.ChatID, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.UserID, 10)
	b = append(b, ' ')
	b = append(b, e.Ingest...)
	return string(b)
}

// packable reports whether the envelope fits FormatPacked: its cid holds
// no space (the ingest may: it is last).
func (e Envelope) packable() bool {
	return !strings.Contains(e.CID, " ")
}

// Entry is an envelope read from a shard stream.
type Entry struct {
	ID         string // stream entry id
	Envelope   Envelope
	Deliveries int64 // times handed to a consumer, this one included
	// Invalid is set when the entry's fields could not be decoded; such an
	// entry cannot be dispatched and should be dead-lettered.
	Invalid error
}

// EnqueuedAt is the time the entry was appended, from its id.
func (e Entry) EnqueuedAt() time.Time { return IDTime(e.ID) }

// IDTime returns the time part of a stream id (zero for a malformed id).
func IDTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// entryFields are the values of one stream entry's fields, as read.
type entryFields struct {
	cid, uid, typ, chat, user, ingest, payload, header string
	packed                                             bool // an h field was there
}

// set records the value of field name; fields of no envelope part (a dead
// letter's, replay_of) are ignored.
func (f *entryFields) set(name, value string) {
	switch name {
	case fCID:
		f.cid = value
	case fUID:
		f.uid = value
	case fType:
		f.typ = value
	case fChat:
		f.chat = value
	case fUser:
		f.user = value
	case fIngest:
		f.ingest = value
	case fPayload:
		f.payload = value
	case fHeader:
		f.header, f.packed = value, true
	}
}

// envelope decodes the fields of either format into an envelope of shard.
func (f *entryFields) envelope(shard int) (Envelope, error) {
	if f.packed {
		var ok bool
		if f.cid, f.header, ok = strings.Cut(f.header, " "); ok {
			if f.chat, f.header, ok = strings.Cut(f.header, " "); ok {
				f.user, f.ingest, ok = strings.Cut(f.header, " ")
			}
		}
		if !ok {
			return Envelope{Shard: shard, Type: f.typ, Payload: []byte(f.payload)},
				fmt.Errorf("queue: entry field %s: not four parts", fHeader)
		}
	}
	e := Envelope{Shard: shard, CID: f.cid, Type: f.typ, Ingest: f.ingest, Payload: []byte(f.payload)}
	var err error
	if e.UpdateID, err = strconv.ParseInt(f.uid, 10, 64); err != nil {
		return e, fmt.Errorf("queue: entry field %s: %w", fUID, err)
	}
	if f.chat != "" {
		if e.ChatID, err = strconv.ParseInt(f.chat, 10, 64); err != nil {
			return e, fmt.Errorf("queue: entry field %s: %w", fChat, err)
		}
	}
	if f.user != "" {
		if e.UserID, err = strconv.ParseInt(f.user, 10, 64); err != nil {
			return e, fmt.Errorf("queue: entry field %s: %w", fUser, err)
		}
	}
	return e, nil
}

// decodeFlat reads an envelope from a flat field/value list, as Lua
// scripts return a stream entry, in either format.
func decodeFlat(shard int, v any) (Envelope, error) {
	list, ok := v.([]any)
	if !ok || len(list)%2 != 0 {
		return Envelope{Shard: shard}, fmt.Errorf("queue: unexpected entry fields %T", v)
	}
	var f entryFields
	for i := 0; i < len(list); i += 2 {
		k, ok1 := list[i].(string)
		val, ok2 := list[i+1].(string)
		if !ok1 || !ok2 {
			return Envelope{Shard: shard}, fmt.Errorf("queue: unexpected entry field types %T, %T", list[i], list[i+1])
		}
		f.set(k, val)
	}
	return f.envelope(shard)
}

// decodeFields reads an envelope, in either format, from a stream
// message's values as go-redis decodes them.
func decodeFields(shard int, kv map[string]string) (Envelope, error) {
	var f entryFields
	for k, v := range kv {
		f.set(k, v)
	}
	return f.envelope(shard)
}

// mapOf converts go-redis's map[string]any message values.
func mapOf(values map[string]any) map[string]string {
	m := make(map[string]string, len(values))
	for k, v := range values {
		switch s := v.(type) {
		case string:
			m[k] = s
		default:
			m[k] = fmt.Sprint(v)
		}
	}
	return m
}

// IDLess reports whether stream id a comes before b (ms, then sequence).
// Ids that do not parse compare as text.
func IDLess(a, b string) bool {
	ams, aseq, aok := splitID(a)
	bms, bseq, bok := splitID(b)
	if !aok || !bok {
		return a < b
	}
	if ams != bms {
		return ams < bms
	}
	return aseq < bseq
}

func splitID(id string) (ms, seq uint64, ok bool) {
	m, s, found := strings.Cut(id, "-")
	ms, err1 := strconv.ParseUint(m, 10, 64)
	if !found {
		return ms, 0, err1 == nil
	}
	seq, err2 := strconv.ParseUint(s, 10, 64)
	return ms, seq, err1 == nil && err2 == nil
}
