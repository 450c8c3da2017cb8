package journal

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/dispatcher-bot/dispatcher/internal/telemetry"
)

// The stored form of a chain (the value of its cid in a segment) is a
// sequence of blocks, each self-contained so that it can be moved from one
// segment to another:
//
//	block  = uvarint(len(body)) body
//	body   = flags instance:4 uvarint(base µs) zigzag(update_id) zigzag(user_id) [zigzag(chat_id)] event*
//	event  = code [text(name)] zigzag(µs after base) meta [text(role)] [str(domain)] uvarint(#fields) field*
//	field  = keycode value | 0xff keycode type value | 0 text(key) type value
//
// flags: bits 0-1 the format version (1), bit 2 the block holds a failure,
// bit 3 the user was in debug mode, bit 4 chat_id equals user_id (and is
// not stored), bit 5 events of this chain were not kept past the cap. meta:
// bits 0-2 the level + 1, bits 3-4 the role (0 none, 1 ACTIVE, 2 PASSIVE,
// 3 text follows), bit 5 the domain is not the event's usual one (it
// follows). instance is the FNV-1a hash of the instance name (the names
// are kept in the journal's meta hash). Field names are never stored for
// the contract's keys, nor the names of the contract's events: one byte
// each (codes.go).
const (
	formatVersion = 1

	flagFailing   = 1 << 2
	flagDebug     = 1 << 3
	flagChatUser  = 1 << 4
	flagTruncated = 1 << 5

	metaRoleShift      = 3
	metaDomain         = 1 << 5
	roleNone           = 0
	roleActive         = 1
	rolePassive        = 2
	roleText           = 3
	levelMask     byte = 7
)

var errCorrupt = errors.New("journal: corrupt block")

// instanceID is the 4-byte id a block stores for an instance name.
func instanceID(name string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return h.Sum32()
}

// cidKey is the segment field of a cid: its 4 bytes (a cid is 8 hex
// characters).
func cidKey(cid string) (string, bool) {
	if !telemetry.ValidCID(cid) {
		return "", false
	}
	var b [4]byte
	for i := range b {
		b[i] = unhex(cid[2*i])<<4 | unhex(cid[2*i+1])
	}
	return string(b[:]), true
}

func unhex(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

func cidText(key string) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 0; i < 4 && i < len(key); i++ {
		b[2*i], b[2*i+1] = digits[key[i]>>4], digits[key[i]&15]
	}
	return string(b[:])
}

func appendZigzag(b []byte, v int64) []byte   { return binary.AppendVarint(b, v) }
func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendText(b []byte, s string) []byte {
	b = appendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendStr writes a string as its dictionary index (even) or as text
// (odd: the length, then the bytes).
func appendStr(b []byte, s string) []byte {
	if i, ok := dictIndex[s]; ok {
		return appendUvarint(b, uint64(i-1)<<1)
	}
	b = appendUvarint(b, uint64(len(s))<<1|1)
	return append(b, s...)
}

// event is one event encoded by Record, on its way to the writer.
type event struct {
	update   telemetry.Update
	instance string
	at       int64  // unix µs
	head     []byte // code [name]
	body     []byte // meta ... fields (everything after the time)
	failing  bool   // a rejection, failure, dead letter, silence warning...
	terminal bool   // the last event of this instance's part of the chain
	waitMS   int64  // QUEUE_PICK's wait_ms: when the chain began
	pick     bool   // QUEUE_PICK: a dispatch's part begins (the ingest's part came before it)
	enqueue  bool   // QUEUE_ENQUEUE: the ingest's part
}

// Terminal events end an instance's part of a chain: its block is written
// at once instead of after the hold. QUEUE_ENQUEUE ends the ingesting
// instance's part (the dispatch is another part, often on another
// instance), so that a failing chain finds it to move.
var terminal = map[string]bool{
	string(telemetry.EvQueueEnqueue): true, string(telemetry.EvDispatchOK): true, string(telemetry.EvDispatchFail): true,
	string(telemetry.EvDeadLettered): true, string(telemetry.EvDuplicateUpdate): true,
	string(telemetry.EvDLQReplayed): true, string(telemetry.EvWebhookRejected): true,
}

// fieldEncoders are the scratch encoders of encodeEntry (it runs on the
// logging goroutine for every event: one allocation for the bytes, one for
// the event).
var fieldEncoders = sync.Pool{New: func() any { return &fieldEncoder{buf: make([]byte, 0, 256)} }}

// encodeEntry encodes one event as the journal keeps it.
func encodeEntry(e *telemetry.Entry) *event {
	ev := &event{update: e.Update, instance: e.Instance, at: e.Time.UnixMicro()}
	code, known := eventCode[e.Name]
	lvl := int(e.Level) + 1
	if lvl < 0 || lvl > int(levelMask) {
		lvl = int(zapcore.InfoLevel) + 1
	}
	meta := byte(lvl)
	role := byte(roleText)
	switch e.Role {
	case "":
		role = roleNone
	case telemetry.RoleActive:
		role = roleActive
	case telemetry.RolePassive:
		role = rolePassive
	}
	meta |= role << metaRoleShift
	domain := e.Domain != string(usualDomain(e.Name))
	if domain {
		meta |= metaDomain
	}
	fe := fieldEncoders.Get().(*fieldEncoder)
	*fe = fieldEncoder{at: ev.at, buf: fe.buf[:0]}
	e.EncodeFields(fe)
	// head and body share one array: code [name] | meta [role] [domain] #fields fields
	b := make([]byte, 0, len(e.Name)+len(e.Role)+len(e.Domain)+4*binary.MaxVarintLen32+2+len(fe.buf))
	if known {
		b = append(b, byte(code))
	} else {
		b = appendText(append(b, 0), e.Name)
	}
	h := len(b)
	b = append(b, meta)
	if role == roleText {
		b = appendText(b, e.Role)
	}
	if domain {
		b = appendStr(b, e.Domain)
	}
	b = appendUvarint(b, uint64(fe.n))
	b = append(b, fe.buf...)
	ev.head, ev.body = b[:h:h], b[h:]
	ev.waitMS = fe.waitMS
	ev.terminal = terminal[e.Name]
	ev.pick = e.Name == string(telemetry.EvQueuePick)
	ev.enqueue = e.Name == string(telemetry.EvQueueEnqueue)
	ev.failing = e.Level >= zapcore.WarnLevel && fe.reason != string(telemetry.ReasonPassiveReject) || fe.delivery > 1
	if cap(fe.buf) <= 4<<10 { // a huge event's scratch is not kept
		*fe = fieldEncoder{buf: fe.buf[:0]}
		fieldEncoders.Put(fe)
	}
	return ev
}

// usualDomain is the domain an event has unless it says otherwise: its
// spec's (UX for a rejection, whose domain follows its reason), QUEUE for
// an event the spec does not know (as telemetry.Logger.Service does).
func usualDomain(name string) telemetry.Domain {
	s, ok := telemetry.SpecOf(telemetry.Event(name))
	switch {
	case !ok:
		return telemetry.DomainQueue
	case s.ByReason:
		return telemetry.DomainUX
	}
	return s.Domain
}

// fieldEncoder is the zapcore.ObjectEncoder the fields of one event are
// encoded with.
type fieldEncoder struct {
	buf      []byte
	n        int
	at       int64
	ns       string
	reason   string
	delivery int64
	waitMS   int64
}

func (f *fieldEncoder) key(k string, typ byte) {
	f.n++
	k = f.ns + k
	if c, ok := keyCode[k]; ok {
		if fieldKeys[c-1].typ == typ {
			f.buf = append(f.buf, byte(c))
			return
		}
		f.buf = append(f.buf, escapeCode, byte(c), typ)
		return
	}
	f.buf = appendText(append(f.buf, 0), k)
	f.buf = append(f.buf, typ)
}

func (f *fieldEncoder) AddString(k, v string) {
	if c, ok := keyCode[f.ns+k]; ok && fieldKeys[c-1].typ == tStreamID {
		if ms, seq, ok := parseStreamID(v); ok {
			f.key(k, tStreamID)
			f.buf = appendZigzag(f.buf, ms-f.at/1000)
			f.buf = appendUvarint(f.buf, seq)
			return
		}
	}
	if k == telemetry.FReasonCode {
		f.reason = v
	}
	f.key(k, tStr)
	f.buf = appendStr(f.buf, v)
}

func (f *fieldEncoder) AddInt64(k string, v int64) {
	switch k {
	case telemetry.FDelivery:
		f.delivery = v
	case telemetry.FWaitMS:
		f.waitMS = v
	}
	f.key(k, tInt)
	f.buf = appendZigzag(f.buf, v)
}

func (f *fieldEncoder) AddBool(k string, v bool) {
	f.key(k, tBool)
	if v {
		f.buf = append(f.buf, 1)
	} else {
		f.buf = append(f.buf, 0)
	}
}

func (f *fieldEncoder) AddFloat64(k string, v float64) {
	f.key(k, tFloat)
	f.buf = binary.LittleEndian.AppendUint64(f.buf, math.Float64bits(v))
}

func (f *fieldEncoder) AddTime(k string, v time.Time) {
	f.key(k, tTime)
	f.buf = appendZigzag(f.buf, v.UnixMicro()-f.at)
}

func (f *fieldEncoder) addJSON(k string, b []byte) {
	f.key(k, tJSON)
	f.buf = appendText(f.buf, string(b))
}

func (f *fieldEncoder) AddArray(k string, v zapcore.ArrayMarshaler) error {
	m := zapcore.NewMapObjectEncoder()
	if err := m.AddArray(k, v); err != nil {
		return err
	}
	items, _ := m.Fields[k].([]any)
	strs := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := it.(string)
		if !ok {
			b, err := json.Marshal(items)
			if err != nil {
				return err
			}
			f.addJSON(k, b)
			return nil
		}
		strs = append(strs, s)
	}
	f.key(k, tStrs)
	f.buf = appendUvarint(f.buf, uint64(len(strs)))
	for _, s := range strs {
		f.buf = appendStr(f.buf, s)
	}
	return nil
}

func (f *fieldEncoder) AddObject(k string, v zapcore.ObjectMarshaler) error {
	m := zapcore.NewMapObjectEncoder()
	if err := v.MarshalLogObject(m); err != nil {
		return err
	}
	b, err := json.Marshal(m.Fields)
	if err != nil {
		return err
	}
	f.addJSON(k, b)
	return nil
}

func (f *fieldEncoder) AddReflected(k string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f.addJSON(k, b)
	return nil
}

func (f *fieldEncoder) AddBinary(k string, v []byte) {
	f.AddString(k, base64.StdEncoding.EncodeToString(v))
}
func (f *fieldEncoder) AddByteString(k string, v []byte)     { f.AddString(k, string(v)) }
func (f *fieldEncoder) AddComplex128(k string, v complex128) { f.AddString(k, fmt.Sprint(v)) }
func (f *fieldEncoder) AddComplex64(k string, v complex64)   { f.AddString(k, fmt.Sprint(v)) }
func (f *fieldEncoder) AddDuration(k string, v time.Duration) {
	f.AddString(k, v.String()) // as the line's encoder: a Go duration
}
func (f *fieldEncoder) AddFloat32(k string, v float32) { f.AddFloat64(k, float64(v)) }
func (f *fieldEncoder) AddInt(k string, v int)         { f.AddInt64(k, int64(v)) }
func (f *fieldEncoder) AddInt32(k string, v int32)     { f.AddInt64(k, int64(v)) }
func (f *fieldEncoder) AddInt16(k string, v int16)     { f.AddInt64(k, int64(v)) }
func (f *fieldEncoder) AddInt8(k string, v int8)       { f.AddInt64(k, int64(v)) }
func (f *fieldEncoder) AddUint(k string, v uint)       { f.AddUint64(k, uint64(v)) }
func (f *fieldEncoder) AddUint32(k string, v uint32)   { f.AddInt64(k, int64(v)) }
func (f *fieldEncoder) AddUint16(k string, v uint16)   { f.AddInt64(k, int64(v)) }
func (f *fieldEncoder) AddUint8(k string, v uint8)     { f.AddInt64(k, int64(v)) }
func (f *fieldEncoder) AddUintptr(k string, v uintptr) { f.AddUint64(k, uint64(v)) }
func (f *fieldEncoder) AddUint64(k string, v uint64) {
	if v > math.MaxInt64 {
		f.addJSON(k, strconv.AppendUint(nil, v, 10))
		return
	}
	f.AddInt64(k, int64(v))
}
func (f *fieldEncoder) OpenNamespace(k string) { f.ns += k + "." }

// parseStreamID reads a stream id "ms-seq".
func parseStreamID(s string) (ms int64, seq uint64, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil || ms < 0 || strconv.FormatInt(ms, 10) != a || strconv.FormatUint(seq, 10) != b {
		return 0, 0, false
	}
	return ms, seq, true
}

// pending is the part of one chain this instance has recorded and not yet
// written: the events of one cid and update, from one instance.
type pending struct {
	cid      string
	update   telemetry.Update
	instance string
	base     int64 // µs of the first event
	started  time.Time
	events   []byte
	n        int
	failing  bool
	debug    bool
	trunc    bool
	ready    bool
	// begin is when the chain began as far as this instance knows (µs):
	// the first event, or QUEUE_PICK's time less its wait
	begin int64
	// picked: the part begins with QUEUE_PICK and holds no QUEUE_ENQUEUE, so
	// it is a dispatch's alone, and the ingest's part put the cid in its
	// user's last cids (a worker may log QUEUE_PICK before the ingest on the
	// same instance logs QUEUE_ENQUEUE: then both are in this part)
	picked bool
}

func newPending(ev *event, now time.Time) *pending {
	return &pending{cid: ev.update.CID, update: ev.update, instance: ev.instance, base: ev.at, started: now,
		begin: ev.at, picked: ev.pick, events: make([]byte, 0, 128)}
}

// add appends one event.
func (p *pending) add(ev *event) {
	p.events = append(p.events, ev.head...)
	p.events = appendZigzag(p.events, ev.at-p.base)
	p.events = append(p.events, ev.body...)
	p.n++
	if ev.failing {
		p.failing = true
	}
	if ev.terminal {
		p.ready = true
	}
	if ev.enqueue {
		p.picked = false
	}
	if ev.waitMS > 0 {
		if b := ev.at - ev.waitMS*1000; b < p.begin {
			p.begin = b
		}
	}
	if p.update.UserID == 0 {
		p.update.UserID = ev.update.UserID
	}
	if p.update.ChatID == 0 {
		p.update.ChatID = ev.update.ChatID
	}
}

// appendBlock writes the block of p.
func (p *pending) appendBlock(b []byte) []byte {
	body := make([]byte, 0, 32+len(p.events))
	flags := byte(formatVersion)
	if p.failing {
		flags |= flagFailing
	}
	if p.debug {
		flags |= flagDebug
	}
	if p.trunc {
		flags |= flagTruncated
	}
	chatIsUser := p.update.ChatID == p.update.UserID
	if chatIsUser {
		flags |= flagChatUser
	}
	body = append(body, flags)
	body = binary.BigEndian.AppendUint32(body, instanceID(p.instance))
	body = appendUvarint(body, uint64(max(p.base, 0)))
	body = appendZigzag(body, p.update.UpdateID)
	body = appendZigzag(body, p.update.UserID)
	if !chatIsUser {
		body = appendZigzag(body, p.update.ChatID)
	}
	body = append(body, p.events...)
	b = appendUvarint(b, uint64(len(body)))
	return append(b, body...)
}

// block is one decoded block.
type block struct {
	flags    byte
	instance uint32
	update   telemetry.Update
	events   []telemetry.JournalEvent
}

// reader reads the varints and strings of a block body.
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil || uint64(len(r.b)) < n {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) text() string { return string(r.bytes(r.uvarint())) }

func (r *reader) str() string {
	v := r.uvarint()
	if v&1 == 0 {
		if i := v >> 1; i < uint64(len(dictionary)) {
			return dictionary[i]
		}
		r.err = errCorrupt
		return ""
	}
	return string(r.bytes(v >> 1))
}

// decodeBlocks decodes a chain's stored value; names maps instance ids to
// names. A block that does not decode (or of a later format) is skipped.
func decodeBlocks(cid string, v []byte, names map[uint32]string) []block {
	var out []block
	r := reader{b: v}
	for len(r.b) > 0 && r.err == nil {
		body := r.bytes(r.uvarint())
		if r.err != nil {
			break
		}
		if b, err := decodeBlock(cid, body, names); err == nil {
			out = append(out, b)
		}
	}
	return out
}

func decodeBlock(cid string, body []byte, names map[uint32]string) (block, error) {
	r := reader{b: body}
	var b block
	b.flags = r.byte()
	if b.flags&3 != formatVersion {
		return b, errCorrupt
	}
	if id := r.bytes(4); len(id) == 4 {
		b.instance = binary.BigEndian.Uint32(id)
	}
	base := int64(r.uvarint())
	b.update = telemetry.Update{CID: cid, UpdateID: r.varint(), UserID: r.varint()}
	b.update.ChatID = b.update.UserID
	if b.flags&flagChatUser == 0 {
		b.update.ChatID = r.varint()
	}
	if r.err != nil {
		return b, r.err
	}
	name, ok := names[b.instance]
	if !ok {
		name = fmt.Sprintf("instance-%08x", b.instance)
	}
	for len(r.b) > 0 && r.err == nil {
		e := decodeEvent(&r, base, name, b.update)
		if r.err == nil {
			b.events = append(b.events, e)
		}
	}
	return b, r.err
}

func decodeEvent(r *reader, base int64, instance string, u telemetry.Update) telemetry.JournalEvent {
	code := r.byte()
	var name string
	if code == 0 {
		name = r.text()
	} else if int(code) <= len(eventNames) {
		name = string(eventNames[code-1])
	} else {
		name = fmt.Sprintf("EVENT_%d", code) // written by a later release
	}
	at := base + r.varint()
	meta := r.byte()
	e := telemetry.JournalEvent{
		telemetry.FTS: telemetry.FormatTime(time.UnixMicro(at)), telemetry.FName: name,
		telemetry.FLevel: zapcore.Level(int8(meta&levelMask) - 1).String(), telemetry.FInstance: instance,
		telemetry.FCID: u.CID, telemetry.FUpdateID: json.Number(strconv.FormatInt(u.UpdateID, 10)),
	}
	switch (meta >> metaRoleShift) & 3 {
	case roleActive:
		e[telemetry.FRole] = telemetry.RoleActive
	case rolePassive:
		e[telemetry.FRole] = telemetry.RolePassive
	case roleText:
		e[telemetry.FRole] = r.text()
	}
	domain := string(usualDomain(name))
	if meta&metaDomain != 0 {
		domain = r.str()
	}
	e[telemetry.FDomain] = domain
	if u.UserID != 0 {
		e[telemetry.FUserID] = json.Number(strconv.FormatInt(u.UserID, 10))
	}
	if u.ChatID != 0 {
		e[telemetry.FChatID] = json.Number(strconv.FormatInt(u.ChatID, 10))
	}
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		k, v := decodeField(r, at)
		e[k] = v
	}
	return e
}

func decodeField(r *reader, at int64) (string, any) {
	var key string
	var typ byte
	switch c := r.byte(); c {
	case 0:
		key = r.text()
		typ = r.byte()
	case escapeCode:
		kc := int(r.byte())
		if kc == 0 || kc > len(fieldKeys) {
			r.err = errCorrupt
			return "", nil
		}
		key, typ = fieldKeys[kc-1].name, r.byte()
	default:
		if int(c) > len(fieldKeys) {
			r.err = errCorrupt
			return "", nil
		}
		key, typ = fieldKeys[c-1].name, fieldKeys[c-1].typ
	}
	return key, decodeValue(r, typ, at)
}

func decodeValue(r *reader, typ byte, at int64) any {
	switch typ {
	case tInt:
		return json.Number(strconv.FormatInt(r.varint(), 10))
	case tStr:
		return r.str()
	case tBool:
		return r.byte() != 0
	case tFloat:
		b := r.bytes(8)
		if r.err != nil {
			return nil
		}
		return json.Number(strconv.FormatFloat(math.Float64frombits(binary.LittleEndian.Uint64(b)), 'f', -1, 64))
	case tStrs:
		n := r.uvarint()
		if n > uint64(len(r.b)) {
			r.err = errCorrupt
			return nil
		}
		out := make([]any, 0, n)
		for i := uint64(0); i < n && r.err == nil; i++ {
			out = append(out, r.str())
		}
		return out
	case tTime:
		return telemetry.FormatTime(time.UnixMicro(at + r.varint()))
	case tStreamID:
		ms := at/1000 + r.varint()
		return strconv.FormatInt(ms, 10) + "-" + strconv.FormatUint(r.uvarint(), 10)
	case tJSON:
		raw := r.bytes(r.uvarint())
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return string(raw)
		}
		return v
	}
	r.err = errCorrupt
	return nil
}

// mustKey is cidKey of a cid already checked (Record takes only valid
// ones).
func mustKey(cid string) string { k, _ := cidKey(cid); return k }
