package queue

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// asReply turns field/value pairs into a Lua reply's flat list.
func asReply(kv []any) []any {
	out := make([]any, len(kv))
	for i, v := range kv {
		switch x := v.(type) {
		case []byte:
			out[i] = string(x)
		default:
			out[i] = x
		}
	}
	return out
}

// FuzzDecodeEntry feeds the stream-entry decoder (what the worker reads
// back from Redis: a claimed entry's flat field list) any field values: it
// never panics; an entry is Invalid exactly when uid is not an integer or a
// non-empty chat or user is not one; a valid entry encodes back to the
// same fields; and a reply that is not a list of string pairs is Invalid,
// never a crash.
func FuzzDecodeEntry(f *testing.F) {
	f.Add("a1b2c3d4", "7", "message", "42", "42", []byte(`{"update_id":7}`), "i-1", false)
	f.Add("", "", "", "", "", []byte{}, "", false)
	f.Add("x", "-9223372036854775808", "callback_query", "", "-100123", []byte{0xff, 0}, "i", false)
	f.Add("x", "9223372036854775808", "t", "1e3", " 1", []byte("{"), "i", true)
	f.Add("x", "0x10", "t", "+5", "007", []byte(nil), "i", false)
	q := &Queue{}
	f.Fuzz(func(t *testing.T, cid, uid, typ, chat, user string, payload []byte, ingest string, odd bool) {
		fields := []any{fCID, cid, fUID, uid, fType, typ, fChat, chat, fUser, user, fIngest, ingest, fPayload, string(payload)}
		if odd {
			fields = append(fields, "dangling")
		}
		e := q.entry(3, "1-0", 2, fields)
		if odd {
			if e.Invalid == nil {
				t.Fatalf("an odd field list decoded: %+v", e)
			}
			return
		}
		_, uidErr := strconv.ParseInt(uid, 10, 64)
		bad := uidErr != nil
		for _, v := range []string{chat, user} {
			if _, err := strconv.ParseInt(v, 10, 64); v != "" && err != nil {
				bad = true
			}
		}
		if bad != (e.Invalid != nil) {
			t.Fatalf("uid=%q chat=%q user=%q: Invalid=%v", uid, chat, user, e.Invalid)
		}
		if e.Invalid != nil {
			return
		}
		env := e.Envelope
		if env.Shard != 3 || env.CID != cid || env.Type != typ || env.Ingest != ingest || !bytes.Equal(env.Payload, payload) {
			t.Fatalf("fields changed on the way: %+v", env)
		}
		for _, format := range Formats() {
			if format == FormatPacked && !env.packable() {
				continue // written in FormatFields (TestAPackedQueueWritesFieldsForAnUnpackableEnvelope)
			}
			again := q.entry(3, "1-0", 2, asReply(env.appendFields(nil, format)))
			if again.Invalid != nil || again.Envelope.UpdateID != env.UpdateID || again.Envelope.ChatID != env.ChatID ||
				again.Envelope.UserID != env.UserID || !bytes.Equal(again.Envelope.Payload, env.Payload) ||
				again.Envelope.CID != env.CID || again.Envelope.Type != env.Type || again.Envelope.Ingest != env.Ingest {
				t.Fatalf("round trip in format %d: %+v then %+v (%v)", format, env, again.Envelope, again.Invalid)
			}
		}
	})
}

// FuzzDecodePackedEntry feeds the FormatPacked decoder any header: it never
// panics, and a header it takes is four space-separated parts whose chat
// and user (the second and third) are integers (or empty).
func FuzzDecodePackedEntry(f *testing.F) {
	f.Add("7", "a1b2 42 42 i-1")
	f.Add("7", "a1b2 42 42 i with spaces")
	f.Add("7", "   ")
	f.Add("7", "a b c")
	f.Add("x", "a 1 2 i")
	f.Add("7", "a 1x 2 i")
	q := &Queue{}
	f.Fuzz(func(t *testing.T, uid, header string) {
		e := q.entry(1, "1-0", 1, []any{fUID, uid, fType, "message", fHeader, header, fPayload, "{}"})
		parts := strings.SplitN(header, " ", 4)
		_, uidErr := strconv.ParseInt(uid, 10, 64)
		bad := len(parts) < 4 || uidErr != nil
		if !bad {
			for _, v := range parts[1:3] {
				if _, err := strconv.ParseInt(v, 10, 64); v != "" && err != nil {
					bad = true
				}
			}
		}
		if bad != (e.Invalid != nil) {
			t.Fatalf("uid=%q h=%q: Invalid=%v", uid, header, e.Invalid)
		}
		if !bad && (e.Envelope.CID != parts[0] || e.Envelope.Type != "message" || e.Envelope.Ingest != parts[3]) {
			t.Fatalf("h=%q decoded as %+v", header, e.Envelope)
		}
	})
}

func TestEntryOfAnUnexpectedReply(t *testing.T) {
	q := &Queue{}
	for _, fields := range []any{nil, "x", []any{1, 2}, []any{"uid", 7}, map[string]string{"uid": "1"}} {
		if e := q.entry(0, nil, 1, fields); e.Invalid == nil {
			t.Fatalf("%#v decoded: %+v", fields, e)
		}
	}
}
