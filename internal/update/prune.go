package update

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/mymmrac/telego"
)

// Bounds of one pruning: beyond them a failing member is dropped whole.
const (
	maxPruneDepth = 32 // levels of members and elements followed into
	// maxTrialWork bounds the trial decodes: each costs its bytes plus
	// trialCost. Real bodies need a few dozen; the bound stops a body made
	// of thousands of failing parts within a fraction of a second.
	maxTrialWork = 8 << 20
	trialCost    = 1 << 10
)

// pruner removes from a body what telego cannot decode, member by member
// (see prune), and records what it removed.
type pruner struct {
	budget int // work left for trial decodes (maxTrialWork)
	parts  []Part
}

// try decodes data into a new t and reports telego's error.
func (p *pruner) try(t reflect.Type, data []byte) error {
	p.budget -= len(data) + trialCost
	return unmarshal(data, reflect.New(t).Interface())
}

func (p *pruner) record(path string, err error) {
	p.parts = append(p.parts, Part{Path: path, Err: err.Error()})
}

// prune returns data, which decodes into t, or data without the members
// and elements that made it fail, so that it does; or the error of data
// when nothing of it can be kept. What it removed is recorded; a failure
// records nothing (the caller records data as a whole).
func (p *pruner) prune(t reflect.Type, data []byte, path string, depth int) ([]byte, error) {
	err := p.try(t, data)
	if err == nil {
		return data, nil
	}
	if p.budget <= 0 || depth >= maxPruneDepth {
		return nil, err
	}
	mark := len(p.parts)
	bt := t
	for bt.Kind() == reflect.Pointer {
		bt = bt.Elem()
	}
	var kept []byte
	var perr error
	switch {
	case bt.Kind() == reflect.Struct && data[0] == '{':
		kept, perr = p.object(bt, data, path, depth)
	case bt.Kind() == reflect.Slice && data[0] == '[':
		kept, perr = p.list(bt.Elem(), data, path, depth)
	default:
		return nil, err
	}
	if perr != nil {
		p.parts = p.parts[:mark]
		return nil, err
	}
	return kept, nil
}

// list prunes each element of an array of a concrete type.
func (p *pruner) list(elem reflect.Type, data []byte, path string, depth int) ([]byte, error) {
	slice := reflect.SliceOf(elem)
	kept := p.sift(elements(data), 0, path,
		func(group [][]byte) bool { return p.try(slice, join(group)) == nil },
		func(at string, e []byte) ([]byte, bool) {
			v, err := p.prune(elem, e, at, depth+1)
			if err != nil {
				p.record(at, err)
				return nil, false
			}
			return v, true
		})
	return join(kept), nil
}

// sift returns the elements of a list (the first at index first) that
// decode: a group that decodes as a whole is kept whole, else it is split
// in halves, down to single elements, which one keeps (perhaps pruned) or
// drops. One failing element among n costs about 2 log n trials, all of
// them 2n. Past the bound, the rest is left out as one part.
func (p *pruner) sift(elems [][]byte, first int, path string, whole func([][]byte) bool,
	one func(at string, e []byte) ([]byte, bool)) [][]byte {
	switch {
	case len(elems) == 0:
		return nil
	case p.budget <= 0:
		p.parts = append(p.parts, Part{Path: fmt.Sprintf("%s[%d:%d]", path, first, first+len(elems)), Err: errBudget.Error()})
		return nil
	case whole(elems):
		return elems
	case len(elems) == 1:
		v, ok := one(fmt.Sprintf("%s[%d]", path, first), elems[0])
		if !ok {
			return nil
		}
		return [][]byte{v}
	}
	half := len(elems) / 2
	kept := p.sift(elems[:half], first, path, whole, one)
	return append(kept, p.sift(elems[half:], first+half, path, whole, one)...)
}

// object prunes the members of an object that decodes into the struct t
// once its failing members are gone. Members of a concrete type are pruned
// on their own; members holding an interface (telego decodes those by a
// discriminator in the parent's UnmarshalJSON) can only be tried in the
// parent, so they are added back to it one by one and, for lists, element
// by element, keeping what decodes.
func (p *pruner) object(t reflect.Type, data []byte, path string, depth int) ([]byte, error) {
	ms := membersOf(data)
	fs := fieldsOf(t)
	var objs, lists []int // members of an interface type (or a list of one)
	for i := range ms {
		f, ok := fs.lookup(ms[i].key)
		if !ok {
			continue // decoders ignore it
		}
		ms[i].field = f
		switch {
		case f.ifaceList && ms[i].val[0] == '[':
			lists = append(lists, i)
		case f.iface:
			objs = append(objs, i)
		default:
			at := join2(path, ms[i].key)
			v, err := p.prune(f.typ, ms[i].val, at, depth+1)
			if err != nil {
				p.record(at, err)
				ms[i].drop = true
				continue
			}
			ms[i].val = v
		}
	}
	err := p.try(t, build(ms))
	if err == nil || len(objs)+len(lists) == 0 {
		return build(ms), err
	}
	orig := make([][]byte, len(ms))
	for i := range ms {
		orig[i] = ms[i].val
	}
	for _, i := range lists {
		ms[i].val = []byte("[]")
	}
	for _, i := range objs {
		ms[i].drop = true
	}
	if p.try(t, build(ms)) != nil {
		// the parent needs them (telego refuses a member change without
		// both members, a boost without its source...): all or nothing
		for _, i := range objs {
			ms[i].drop = false
		}
		if err := p.try(t, build(ms)); err != nil {
			return nil, err
		}
	} else {
		for _, i := range objs {
			ms[i].drop = false
			v, ok := p.fits(t, ms, i, orig[i], same, join2(path, ms[i].key), depth)
			ms[i].val, ms[i].drop = v, !ok
		}
	}
	// the elements are tried in the parent without the others (telego
	// decodes them one by one), in halves (sift)
	for _, i := range lists {
		ms[i].val = join(p.sift(elements(orig[i]), 0, join2(path, ms[i].key),
			func(group [][]byte) bool {
				ms[i].val = join(group)
				return p.try(t, build(ms)) == nil
			},
			func(at string, e []byte) ([]byte, bool) {
				return p.fits(t, ms, i, e, func(v []byte) []byte { return join([][]byte{v}) }, at, depth)
			}))
	}
	if err := p.try(t, build(ms)); err != nil {
		return nil, err
	}
	return build(ms), nil
}

// errBudget is the Err of the parts left out once pruning spent its bound.
var errBudget = errors.New("left out undecoded: the pruning bound was reached")

// fits tries the parent t with the interface member i holding wrap(v)
// (v itself for a member, the kept elements and v for a list) and returns
// what of v it keeps: v when the parent decodes with it; else, when v
// pruned as a type known to implement the interface makes the parent
// decode, that; else nothing, and the failure is recorded.
func (p *pruner) fits(t reflect.Type, ms []objMember, i int, v []byte, wrap func([]byte) []byte, path string, depth int) ([]byte, bool) {
	ms[i].val = wrap(v)
	err := p.try(t, build(ms))
	if err == nil {
		return v, true
	}
	for _, impl := range implementations[ms[i].field.ifaceType] {
		mark := len(p.parts)
		pv, perr := p.prune(impl, v, path, depth+1)
		if perr == nil && !bytes.Equal(pv, v) {
			ms[i].val = wrap(pv)
			if p.try(t, build(ms)) == nil {
				return pv, true
			}
		}
		p.parts = p.parts[:mark]
	}
	p.record(path, err)
	return nil, false
}

// implementations are the concrete types tried for a member of an
// interface type that fails as a whole, to keep what decodes of it: a
// callback's or a pinned message with a part telego cannot decode is kept
// without that part. Other interface values (the discriminated ones) are
// kept or dropped whole.
var implementations = map[reflect.Type][]reflect.Type{
	reflect.TypeFor[telego.MaybeInaccessibleMessage](): {reflect.TypeFor[telego.Message]()},
}

func join2(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// objMember is one member of an object being pruned.
type objMember struct {
	key   string // unescaped
	raw   []byte // the key as written, without quotes
	val   []byte
	field field
	drop  bool
}

// membersOf splits a valid object into its members.
func membersOf(data []byte) []objMember {
	var ms []objMember
	l := lexer{b: data}
	l.ws()
	_ = l.object(func(key []byte, escaped bool) error {
		v, err := l.value()
		name := string(key)
		if escaped {
			name = unescape(key)
		}
		ms = append(ms, objMember{key: name, raw: key, val: v})
		return err
	})
	return ms
}

// elements splits a valid array into its elements.
func elements(data []byte) [][]byte {
	var out [][]byte
	l := lexer{b: data}
	l.ws()
	l.i++ // '['
	if l.peek() == ']' {
		return nil
	}
	for {
		v, err := l.value()
		if err != nil {
			return out
		}
		out = append(out, v)
		if l.peek() != ',' {
			return out
		}
		l.i++
	}
}

// build writes the members not dropped as an object.
func build(ms []objMember) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, m := range ms {
		if m.drop {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteByte('"')
		b.Write(m.raw)
		b.WriteString(`":`)
		b.Write(m.val)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// join writes values as an array.
func join(vs [][]byte) []byte {
	return append(append([]byte{'['}, bytes.Join(vs, []byte{','})...), ']')
}

func same(v []byte) []byte { return v }

// field is what pruning needs of a struct field.
type field struct {
	typ       reflect.Type
	iface     bool         // holds an interface, directly or in a list
	ifaceList bool         // a list of an interface type
	ifaceType reflect.Type // the interface
}

type fields map[string]field

// lookup finds the field a member fills: the exact name, else a
// case-insensitive match, as encoding/json does.
func (fs fields) lookup(key string) (field, bool) {
	if f, ok := fs[key]; ok {
		return f, true
	}
	for name, f := range fs {
		if strings.EqualFold(name, key) {
			return f, true
		}
	}
	return field{}, false
}

var fieldCache sync.Map // reflect.Type -> fields

// fieldsOf returns the JSON members of struct t and their fields.
func fieldsOf(t reflect.Type) fields {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(fields)
	}
	fs := fields{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() || sf.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = sf.Name
		}
		f := field{typ: sf.Type}
		e := deref(sf.Type)
		if e.Kind() == reflect.Slice && deref(e.Elem()).Kind() == reflect.Interface {
			f.iface, f.ifaceList, f.ifaceType = true, true, deref(e.Elem())
		} else if e.Kind() == reflect.Interface {
			f.iface, f.ifaceType = true, e
		}
		fs[name] = f
	}
	fieldCache.Store(t, fs)
	return fs
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// maxDecodeDepth is the deepest nesting handed to telego. Its decoders
// parse a message again for each message it nests (reply_to_message,
// pinned_message...), so their time grows with the square of that
// nesting; Telegram nests a few levels, and whatever lies deeper than this
// is left out before decoding.
const maxDecodeDepth = 64

// cut returns data without the members and elements that nest deeper than
// room levels (data itself being one), recording what it left out.
func (p *pruner) cut(data []byte, room int, path string) []byte {
	if depthOf(data) <= room {
		return data
	}
	if data[0] == '[' {
		var kept [][]byte
		for i, e := range elements(data) {
			at := fmt.Sprintf("%s[%d]", path, i)
			if v, ok := p.cutValue(e, room-1, at); ok {
				kept = append(kept, v)
			}
		}
		return join(kept)
	}
	ms := membersOf(data)
	for i := range ms {
		v, ok := p.cutValue(ms[i].val, room-1, join2(path, ms[i].key))
		ms[i].val, ms[i].drop = v, !ok
	}
	return build(ms)
}

// cutValue is cut for a member or element: false when it is a container
// and room is 0.
func (p *pruner) cutValue(v []byte, room int, path string) ([]byte, bool) {
	if c := v[0]; c != '{' && c != '[' {
		return v, true
	}
	if room <= 0 {
		p.parts = append(p.parts, Part{Path: path, Err: fmt.Sprintf("nested deeper than %d levels", maxDecodeDepth)})
		return nil, false
	}
	return p.cut(v, room, path), true
}
