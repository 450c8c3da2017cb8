package telemetry

import (
	"encoding/base64"
	"encoding/json"
	"sync"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

// kvEncoder writes logfmt: `key=value` pairs separated by one space, in the
// order the fields are given (lineCore puts ts, level, name, instance
// first). It keeps no map: a line is appended to one pooled buffer.
//
// A value is written bare only when every byte is printable ASCII other than
// space, `"`, `=` and `\`; anything else (including the empty string) is
// quoted as logfmt quotes: a JSON string literal, which logfmt decoders and
// json.Unmarshal read back. Inside quotes `=` is itself, so `grep
// 'INSECURE_WEBHOOK=true'` finds a message that says so; `"` and `\` are
// escaped, newlines and tabs by name, other control characters, U+2028,
// U+2029 and every non-printable rune as \uXXXX (surrogate pairs above
// U+FFFF), and each byte of invalid UTF-8 as \ufffd, as the JSON encoder
// writes it. So no value can end its pair, start another one or break the
// line, and a value reads back the same from both formats. Keys are code,
// but are sanitised anyway: a byte outside [A-Za-z0-9_.-] becomes '_'.
type kvEncoder struct {
	buf *buffer.Buffer // encoded fields, each as " key=value"
	ns  string         // open namespace prefix ("a.b."), usually empty
}

var kvPool = sync.Pool{New: func() any { return &kvEncoder{} }}

func newKVEncoder() zapcore.Encoder { return &kvEncoder{buf: bufferPool.Get()} }

func (e *kvEncoder) Clone() zapcore.Encoder {
	c := &kvEncoder{buf: bufferPool.Get(), ns: e.ns}
	_, _ = c.buf.Write(e.buf.Bytes())
	return c
}

// EncodeEntry writes the context fields, then fields, then a newline. The
// entry itself is not written: lineCore passes ts, level, name and instance
// as the first fields.
func (e *kvEncoder) EncodeEntry(_ zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	out := bufferPool.Get()
	_, _ = out.Write(e.buf.Bytes())
	if len(fields) > 0 {
		f := kvPool.Get().(*kvEncoder)
		f.buf, f.ns = out, e.ns
		for i := range fields {
			fields[i].AddTo(f)
		}
		f.buf, f.ns = nil, ""
		kvPool.Put(f)
	}
	out.AppendByte('\n')
	return out, nil
}

// key writes the separator (none before the first pair), the key and '='.
func (e *kvEncoder) key(k string) {
	if e.buf.Len() > 0 {
		e.buf.AppendByte(' ')
	}
	if e.ns != "" {
		appendKVKey(e.buf, e.ns)
	}
	appendKVKey(e.buf, k)
	e.buf.AppendByte('=')
}

func (e *kvEncoder) AddString(k, v string)            { e.key(k); appendKVValue(e.buf, v) }
func (e *kvEncoder) AddByteString(k string, v []byte) { e.key(k); appendKVValue(e.buf, string(v)) }
func (e *kvEncoder) AddBinary(k string, v []byte) {
	e.key(k)
	appendKVValue(e.buf, base64.StdEncoding.EncodeToString(v))
}
func (e *kvEncoder) AddBool(k string, v bool)             { e.key(k); e.buf.AppendBool(v) }
func (e *kvEncoder) AddInt(k string, v int)               { e.key(k); e.buf.AppendInt(int64(v)) }
func (e *kvEncoder) AddInt64(k string, v int64)           { e.key(k); e.buf.AppendInt(v) }
func (e *kvEncoder) AddInt32(k string, v int32)           { e.key(k); e.buf.AppendInt(int64(v)) }
func (e *kvEncoder) AddInt16(k string, v int16)           { e.key(k); e.buf.AppendInt(int64(v)) }
func (e *kvEncoder) AddInt8(k string, v int8)             { e.key(k); e.buf.AppendInt(int64(v)) }
func (e *kvEncoder) AddUint(k string, v uint)             { e.key(k); e.buf.AppendUint(uint64(v)) }
func (e *kvEncoder) AddUint64(k string, v uint64)         { e.key(k); e.buf.AppendUint(v) }
func (e *kvEncoder) AddUint32(k string, v uint32)         { e.key(k); e.buf.AppendUint(uint64(v)) }
func (e *kvEncoder) AddUint16(k string, v uint16)         { e.key(k); e.buf.AppendUint(uint64(v)) }
func (e *kvEncoder) AddUint8(k string, v uint8)           { e.key(k); e.buf.AppendUint(uint64(v)) }
func (e *kvEncoder) AddUintptr(k string, v uintptr)       { e.key(k); e.buf.AppendUint(uint64(v)) }
func (e *kvEncoder) AddFloat64(k string, v float64)       { e.key(k); e.buf.AppendFloat(v, 64) }
func (e *kvEncoder) AddFloat32(k string, v float32)       { e.key(k); e.buf.AppendFloat(float64(v), 32) }
func (e *kvEncoder) AddComplex128(k string, v complex128) { e.key(k); appendComplex(e.buf, v, 64) }
func (e *kvEncoder) AddComplex64(k string, v complex64) {
	e.key(k)
	appendComplex(e.buf, complex128(v), 32)
}
func (e *kvEncoder) AddDuration(k string, v time.Duration) { e.key(k); e.buf.AppendString(v.String()) }
func (e *kvEncoder) AddTime(k string, v time.Time)         { e.key(k); e.buf.AppendTime(v.UTC(), tsLayout) }

func (e *kvEncoder) AddReflected(k string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	e.key(k)
	appendKVValue(e.buf, string(b))
	return nil
}

// OpenNamespace prefixes the keys of the fields that follow with "k.".
func (e *kvEncoder) OpenNamespace(k string) { e.ns += k + "." }

// AddObject writes the object's fields with keys prefixed by "k.".
func (e *kvEncoder) AddObject(k string, m zapcore.ObjectMarshaler) error {
	saved := e.ns
	e.ns += k + "."
	err := m.MarshalLogObject(e)
	e.ns = saved
	return err
}

// AddArray writes the elements joined by commas as one value, quoted as a
// whole when needed: button_ids=mm_models,back.
func (e *kvEncoder) AddArray(k string, m zapcore.ArrayMarshaler) error {
	a := kvArrayPool.Get().(*kvArray)
	a.buf = bufferPool.Get()
	err := m.MarshalLogArray(a)
	e.key(k)
	if b := a.buf.Bytes(); bareSafe(b) {
		_, _ = e.buf.Write(b)
	} else {
		appendQuoted(e.buf, string(b))
	}
	a.buf.Free()
	a.buf, a.n = nil, 0
	kvArrayPool.Put(a)
	return err
}

// kvArray collects array elements, unescaped, separated by commas; the
// caller escapes the joined text once.
type kvArray struct {
	buf *buffer.Buffer
	n   int // elements so far
}

var kvArrayPool = sync.Pool{New: func() any { return &kvArray{} }}

func (a *kvArray) sep() {
	if a.n > 0 {
		a.buf.AppendByte(',')
	}
	a.n++
}

func (a *kvArray) AppendBool(v bool)              { a.sep(); a.buf.AppendBool(v) }
func (a *kvArray) AppendByteString(v []byte)      { a.sep(); _, _ = a.buf.Write(v) }
func (a *kvArray) AppendComplex128(v complex128)  { a.sep(); appendComplex(a.buf, v, 64) }
func (a *kvArray) AppendComplex64(v complex64)    { a.sep(); appendComplex(a.buf, complex128(v), 32) }
func (a *kvArray) AppendFloat64(v float64)        { a.sep(); a.buf.AppendFloat(v, 64) }
func (a *kvArray) AppendFloat32(v float32)        { a.sep(); a.buf.AppendFloat(float64(v), 32) }
func (a *kvArray) AppendInt(v int)                { a.sep(); a.buf.AppendInt(int64(v)) }
func (a *kvArray) AppendInt64(v int64)            { a.sep(); a.buf.AppendInt(v) }
func (a *kvArray) AppendInt32(v int32)            { a.sep(); a.buf.AppendInt(int64(v)) }
func (a *kvArray) AppendInt16(v int16)            { a.sep(); a.buf.AppendInt(int64(v)) }
func (a *kvArray) AppendInt8(v int8)              { a.sep(); a.buf.AppendInt(int64(v)) }
func (a *kvArray) AppendString(v string)          { a.sep(); a.buf.AppendString(v) }
func (a *kvArray) AppendUint(v uint)              { a.sep(); a.buf.AppendUint(uint64(v)) }
func (a *kvArray) AppendUint64(v uint64)          { a.sep(); a.buf.AppendUint(v) }
func (a *kvArray) AppendUint32(v uint32)          { a.sep(); a.buf.AppendUint(uint64(v)) }
func (a *kvArray) AppendUint16(v uint16)          { a.sep(); a.buf.AppendUint(uint64(v)) }
func (a *kvArray) AppendUint8(v uint8)            { a.sep(); a.buf.AppendUint(uint64(v)) }
func (a *kvArray) AppendUintptr(v uintptr)        { a.sep(); a.buf.AppendUint(uint64(v)) }
func (a *kvArray) AppendDuration(v time.Duration) { a.sep(); a.buf.AppendString(v.String()) }
func (a *kvArray) AppendTime(v time.Time)         { a.sep(); a.buf.AppendTime(v.UTC(), tsLayout) }

// AppendArray flattens a nested array into the list.
func (a *kvArray) AppendArray(m zapcore.ArrayMarshaler) error {
	return m.MarshalLogArray(a)
}

// AppendObject writes a nested object as JSON.
func (a *kvArray) AppendObject(m zapcore.ObjectMarshaler) error {
	enc := zapcore.NewMapObjectEncoder()
	if err := m.MarshalLogObject(enc); err != nil {
		return err
	}
	return a.AppendReflected(enc.Fields)
}

func (a *kvArray) AppendReflected(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	a.sep()
	_, _ = a.buf.Write(b)
	return nil
}

// appendKVKey writes k with every byte outside [A-Za-z0-9_.-] replaced by
// '_' (and "_" for an empty key).
func appendKVKey(buf *buffer.Buffer, k string) {
	if k == "" {
		buf.AppendByte('_')
		return
	}
	for i := 0; i < len(k); i++ {
		if !keyByte(k[i]) {
			for j := 0; j < len(k); j++ {
				if keyByte(k[j]) {
					buf.AppendByte(k[j])
				} else {
					buf.AppendByte('_')
				}
			}
			return
		}
	}
	buf.AppendString(k)
}

func keyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// appendKVValue writes s bare when it is safe, else quoted.
func appendKVValue(buf *buffer.Buffer, s string) {
	if bareSafe(s) {
		buf.AppendString(s)
		return
	}
	appendQuoted(buf, s)
}

// bareSafe reports whether s is non-empty printable ASCII without space,
// '"', '=' or '\'.
func bareSafe[S string | []byte](s S) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\' {
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// appendQuoted writes s as a JSON string literal (logfmt's quoting) into buf
// without allocating: printable runes as they are ('=' included), `"` and
// `\` escaped, \n \r \t by name, other control bytes and non-printable
// runes as \uXXXX (a surrogate pair above U+FFFF), and each byte of
// invalid UTF-8 as \ufffd.
func appendQuoted(buf *buffer.Buffer, s string) {
	buf.AppendByte('"')
	start := 0 // s[start:i] is pending, printable and needs no escape
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError && unicode.IsPrint(r) {
				i += size
				continue
			}
			buf.AppendString(s[start:i])
			if r == utf8.RuneError && size == 1 {
				buf.AppendString(`\ufffd`)
			} else {
				appendRuneEscape(buf, r)
			}
			i += size
			start = i
			continue
		}
		buf.AppendString(s[start:i])
		switch c {
		case '"', '\\':
			buf.AppendByte('\\')
			buf.AppendByte(c)
		case '\n':
			buf.AppendString(`\n`)
		case '\r':
			buf.AppendString(`\r`)
		case '\t':
			buf.AppendString(`\t`)
		default:
			appendRuneEscape(buf, rune(c))
		}
		i++
		start = i
	}
	buf.AppendString(s[start:])
	buf.AppendByte('"')
}

// appendRuneEscape writes r as JSON's \uXXXX, or as the two \uXXXX of its
// UTF-16 surrogate pair above U+FFFF.
func appendRuneEscape(buf *buffer.Buffer, r rune) {
	if r > 0xffff {
		hi, lo := utf16.EncodeRune(r)
		appendU4(buf, hi)
		appendU4(buf, lo)
		return
	}
	appendU4(buf, r)
}

func appendU4(buf *buffer.Buffer, r rune) {
	buf.AppendString(`\u`)
	for shift := 12; shift >= 0; shift -= 4 {
		buf.AppendByte(hexDigits[(r>>uint(shift))&0xf])
	}
}

// appendComplex writes c as the JSON encoder does: 1+2i.
func appendComplex(buf *buffer.Buffer, c complex128, bits int) {
	r, i := real(c), imag(c)
	buf.AppendFloat(r, bits)
	if i >= 0 {
		buf.AppendByte('+')
	}
	buf.AppendFloat(i, bits)
	buf.AppendByte('i')
}
