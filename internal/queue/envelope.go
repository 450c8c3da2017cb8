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
)

// envelopeValues is the number of values appendValues appends.
const envelopeValues = 7

// appendValues appends the envelope's stream field values, as the enqueue
// script takes them: it writes them with the names cid, uid, type, chat,
// user, ingest and payload, in this order.
func (e Envelope) appendValues(dst []any) []any {
	return append(dst, e.CID, strconv.FormatInt(e.UpdateID, 10), e.Type, strconv.FormatInt(e.ChatID, 10),
		strconv.FormatInt(e.UserID, 10), e.Ingest, e.Payload)
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

// decodeFields reads an envelope from a flat field/value list, as Lua
// scripts return it, or from a map, as go-redis decodes stream messages.
func decodeFields(shard int, kv map[string]string) (Envelope, error) {
	e := Envelope{Shard: shard, CID: kv[fCID], Type: kv[fType], Ingest: kv[fIngest], Payload: []byte(kv[fPayload])}
	var err error
	if e.UpdateID, err = strconv.ParseInt(kv[fUID], 10, 64); err != nil {
		return e, fmt.Errorf("queue: entry field %s: %w", fUID, err)
	}
	if v := kv[fChat]; v != "" {
		if e.ChatID, err = strconv.ParseInt(v, 10, 64); err != nil {
			return e, fmt.Errorf("queue: entry field %s: %w", fChat, err)
		}
	}
	if v := kv[fUser]; v != "" {
		if e.UserID, err = strconv.ParseInt(v, 10, 64); err != nil {
			return e, fmt.Errorf("queue: entry field %s: %w", fUser, err)
		}
	}
	return e, nil
}

// flatMap turns a Lua reply's flat field/value list into a map.
func flatMap(v any) (map[string]string, error) {
	list, ok := v.([]any)
	if !ok || len(list)%2 != 0 {
		return nil, fmt.Errorf("queue: unexpected entry fields %T", v)
	}
	m := make(map[string]string, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		k, ok1 := list[i].(string)
		val, ok2 := list[i+1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("queue: unexpected entry field types %T, %T", list[i], list[i+1])
		}
		m[k] = val
	}
	return m, nil
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
