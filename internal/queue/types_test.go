package queue

import (
	"reflect"
	"testing"

	"github.com/mymmrac/telego"
	"github.com/stretchr/testify/require"
)

// TestTypesCoverDescribe: Describe gives only names of Types, so the
// update_type counters created at 0 from them cover every value.
func TestTypesCoverDescribe(t *testing.T) {
	known := map[string]bool{}
	for _, typ := range Types() {
		known[typ] = true
	}
	require.True(t, known["callback_query"])
	require.True(t, known[TypeUnknown])
	ut := reflect.TypeOf(telego.Update{})
	for i := 0; i < ut.NumField(); i++ {
		f := ut.Field(i)
		if f.Type.Kind() != reflect.Pointer {
			continue
		}
		var u telego.Update
		v := reflect.New(f.Type.Elem())
		fill(v.Elem())
		reflect.ValueOf(&u).Elem().Field(i).Set(v)
		typ, _, _ := Describe(&u)
		require.True(t, known[typ], "Describe gives %q for %s, not a name of Types", typ, f.Name)
	}
	typ, _, _ := Describe(&telego.Update{UpdateID: 1})
	require.Equal(t, TypeUnknown, typ)
}

// fill allocates the struct pointer fields of v, one level deep, so that
// Describe can read the ids of their users and chats.
func fill(v reflect.Value) {
	if v.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct && f.CanSet() {
			f.Set(reflect.New(f.Type().Elem()))
		}
	}
}
