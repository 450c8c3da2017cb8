package update

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// maxDepth is the deepest nesting accepted, encoding/json's own limit, so
// that every body Scan accepts also decodes at dispatch.
const maxDepth = 10000

// errSyntax is wrapped by every error about a body that is not JSON.
var errSyntax = errors.New("invalid JSON")

// lexer walks one JSON text. Its methods validate what they pass over
// exactly as encoding/json does (strings may hold invalid UTF-8, which
// encoding/json replaces), and never allocate on valid input.
type lexer struct {
	b       []byte
	i       int
	depth   int
	deepest int // the deepest nesting passed over
}

func (l *lexer) fail(what string) error {
	if l.i >= len(l.b) {
		return fmt.Errorf("%w: unexpected end of input, expecting %s", errSyntax, what)
	}
	return fmt.Errorf("%w: unexpected %q at byte %d, expecting %s", errSyntax, l.b[l.i], l.i, what)
}

// ws skips JSON whitespace.
func (l *lexer) ws() {
	for l.i < len(l.b) {
		switch l.b[l.i] {
		case ' ', '\t', '\n', '\r':
			l.i++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace (0 at the end).
func (l *lexer) peek() byte {
	l.ws()
	if l.i < len(l.b) {
		return l.b[l.i]
	}
	return 0
}

// plain marks the bytes a string can hold without a closer look.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str passes over a string (at its opening quote) and returns its content
// as written, and whether it holds escapes.
func (l *lexer) str() (raw []byte, escaped bool, err error) {
	if l.i >= len(l.b) || l.b[l.i] != '"' {
		return nil, false, l.fail("string")
	}
	l.i++
	start := l.i
	for {
		for l.i < len(l.b) && plain[l.b[l.i]] {
			l.i++
		}
		if l.i >= len(l.b) {
			return nil, false, l.fail(`'"'`)
		}
		switch c := l.b[l.i]; {
		case c == '"':
			raw = l.b[start:l.i]
			l.i++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			if err := l.escape(); err != nil {
				return nil, false, err
			}
		default:
			return nil, false, l.fail("a character of a string (control characters must be escaped)")
		}
	}
}

// escape passes over one escape sequence (at its backslash).
func (l *lexer) escape() error {
	l.i++
	if l.i >= len(l.b) {
		return l.fail("an escape")
	}
	switch l.b[l.i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		l.i++
		return nil
	case 'u':
		l.i++
		for n := 0; n < 4; n++ {
			if l.i >= len(l.b) || !isHex(l.b[l.i]) {
				return l.fail("a hex digit")
			}
			l.i++
		}
		return nil
	}
	return l.fail("an escape")
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number passes over a number and returns it as written, and whether it is
// written as an integer (no fraction, no exponent).
func (l *lexer) number() (raw []byte, integer bool, err error) {
	start := l.i
	if l.i < len(l.b) && l.b[l.i] == '-' {
		l.i++
	}
	switch {
	case l.i < len(l.b) && l.b[l.i] == '0':
		l.i++
	case l.i < len(l.b) && isDigit(l.b[l.i]):
		for l.i < len(l.b) && isDigit(l.b[l.i]) {
			l.i++
		}
	default:
		return nil, false, l.fail("a digit")
	}
	integer = true
	if l.i < len(l.b) && l.b[l.i] == '.' {
		integer = false
		l.i++
		if l.i >= len(l.b) || !isDigit(l.b[l.i]) {
			return nil, false, l.fail("a digit")
		}
		for l.i < len(l.b) && isDigit(l.b[l.i]) {
			l.i++
		}
	}
	if l.i < len(l.b) && (l.b[l.i] == 'e' || l.b[l.i] == 'E') {
		integer = false
		l.i++
		if l.i < len(l.b) && (l.b[l.i] == '+' || l.b[l.i] == '-') {
			l.i++
		}
		if l.i >= len(l.b) || !isDigit(l.b[l.i]) {
			return nil, false, l.fail("a digit")
		}
		for l.i < len(l.b) && isDigit(l.b[l.i]) {
			l.i++
		}
	}
	return l.b[start:l.i], integer, nil
}

// literal passes over true, false or null.
func (l *lexer) literal(word string) error {
	if len(l.b)-l.i < len(word) || string(l.b[l.i:l.i+len(word)]) != word {
		return l.fail(word)
	}
	l.i += len(word)
	return nil
}

// value passes over one value of any type and returns it as written.
func (l *lexer) value() ([]byte, error) {
	l.ws()
	start := l.i
	var err error
	switch l.peek() {
	case '{':
		err = l.object(nil)
	case '[':
		err = l.array()
	case '"':
		_, _, err = l.str()
	case 't':
		err = l.literal("true")
	case 'f':
		err = l.literal("false")
	case 'n':
		err = l.literal("null")
	default:
		_, _, err = l.number()
	}
	if err != nil {
		return nil, err
	}
	return l.b[start:l.i], nil
}

// member is called by object for each member, with the key as written and
// the lexer at the value; it must pass over the value.
type member func(key []byte, escaped bool) error

// object passes over an object (at its opening brace), calling each for
// every member (nil: skip the values).
func (l *lexer) object(each member) error {
	if err := l.enter(); err != nil {
		return err
	}
	l.i++ // '{'
	if l.peek() == '}' {
		l.i++
		l.depth--
		return nil
	}
	for {
		l.ws()
		key, escaped, err := l.str()
		if err != nil {
			return err
		}
		if l.peek() != ':' {
			return l.fail("':'")
		}
		l.i++
		if each != nil {
			err = each(key, escaped)
		} else {
			_, err = l.value()
		}
		if err != nil {
			return err
		}
		switch l.peek() {
		case ',':
			l.i++
		case '}':
			l.i++
			l.depth--
			return nil
		default:
			return l.fail("',' or '}'")
		}
	}
}

// enter counts one more level of nesting.
func (l *lexer) enter() error {
	if l.depth++; l.depth > maxDepth {
		return fmt.Errorf("%w: nested deeper than %d", errSyntax, maxDepth)
	}
	l.deepest = max(l.deepest, l.depth)
	return nil
}

// depthOf returns how deep a valid value nests (0 for a scalar).
func depthOf(v []byte) int {
	l := lexer{b: v}
	_, _ = l.value()
	return l.deepest
}

// array passes over an array (at its opening bracket).
func (l *lexer) array() error {
	if err := l.enter(); err != nil {
		return err
	}
	l.i++ // '['
	if l.peek() == ']' {
		l.i++
		l.depth--
		return nil
	}
	for {
		if _, err := l.value(); err != nil {
			return err
		}
		switch l.peek() {
		case ',':
			l.i++
		case ']':
			l.i++
			l.depth--
			return nil
		default:
			return l.fail("',' or ']'")
		}
	}
}

// keyIs reports whether a key as written means name. Keys with escapes
// (never sent by Telegram) are unescaped first.
func keyIs(key []byte, escaped bool, name string) bool {
	if !escaped {
		return string(key) == name
	}
	return unescape(key) == name
}

// unescape returns the text of a valid string's content with escapes.
func unescape(key []byte) string {
	var s string
	q := make([]byte, 0, len(key)+2)
	q = append(append(append(q, '"'), key...), '"')
	_ = json.Unmarshal(q, &s) // valid: the lexer passed over it
	return s
}

// lookup returns the value of the member named name of the valid object
// obj (the last one, as decoders take), or nil.
func lookup(obj []byte, name string) []byte {
	v, _ := lookup2(obj, name, "")
	return v
}

// lookup2 returns the values of the members named a and b (b may be "")
// in one pass. obj has been validated, so values are skipped without a
// second look at their syntax.
func lookup2(obj []byte, a, b string) (va, vb []byte) {
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, nil
	}
	for i++; ; {
		i = skipWS(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return va, vb // '}' of an empty object
		}
		end := skip(obj, i)
		key := obj[i+1 : end-1]
		i = skipWS(obj, skipWS(obj, end)+1) // past ':'
		end = skip(obj, i)
		escaped := bytes.IndexByte(key, '\\') >= 0
		switch {
		case keyIs(key, escaped, a):
			va = obj[i:end]
		case b != "" && keyIs(key, escaped, b):
			vb = obj[i:end]
		}
		i = skipWS(obj, end)
		if i >= len(obj) || obj[i] != ',' {
			return va, vb
		}
		i++
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skip returns the end of the valid value that starts at b[i].
func skip(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// skipString returns the end of the valid string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped character (of \uXXXX, the u)
		case '"':
			return i + 1
		}
	}
	return i
}

// ids follows the paths chat and user from the valid object obj (the
// members they start with found in one pass) and returns the integers
// there: 0 where a member is missing or the value is not an integer that
// fits an int64.
func ids(obj []byte, chat, user path) (int64, int64) {
	switch {
	case len(chat) == 0 && len(user) == 0:
		return 0, 0
	case len(chat) == 0:
		v, _ := lookup2(obj, user[0], "")
		return 0, follow(v, user[1:])
	case len(user) == 0:
		v, _ := lookup2(obj, chat[0], "")
		return follow(v, chat[1:]), 0
	}
	vc, vu := lookup2(obj, chat[0], user[0])
	return follow(vc, chat[1:]), follow(vu, user[1:])
}

// follow returns the integer at p from v (0 when there is none).
func follow(v []byte, p path) int64 {
	for _, name := range p {
		if v == nil {
			return 0
		}
		v = lookup(v, name)
	}
	if v == nil {
		return 0
	}
	n, err := parseInt(v)
	if err != nil {
		return 0
	}
	return n
}

var (
	errNotInteger = errors.New("not an integer")
	errRange      = errors.New("out of the range of a 64-bit integer")
)

// parseInt reads a JSON number written as an integer that fits an int64.
func parseInt(v []byte) (int64, error) {
	l := lexer{b: v}
	raw, integer, err := l.number()
	if err != nil || !integer || l.i != len(v) {
		return 0, errNotInteger
	}
	neg := raw[0] == '-'
	if neg {
		raw = raw[1:]
	}
	var n uint64
	for _, c := range raw {
		d := uint64(c - '0')
		if n > (1<<63-d)/10 { // n*10+d would pass 2^63
			return 0, errRange
		}
		n = n*10 + d
	}
	switch {
	case neg:
		return -int64(n), nil // n <= 2^63: -2^63 included
	case n > 1<<63-1:
		return 0, errRange
	}
	return int64(n), nil
}
