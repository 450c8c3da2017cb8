package queue

import (
	"reflect"
	"strings"
	"sync"

	"github.com/mymmrac/telego"
)

// Types returns every update type Describe can give: the JSON name of each
// kind of update telego.Update carries, and TypeUnknown. The metrics create
// dispatcher_updates_enqueued_total at 0 for each.
func Types() []string {
	typesOnce.Do(func() {
		t := reflect.TypeOf(telego.Update{})
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Type.Kind() != reflect.Pointer {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				types = append(types, name)
			}
		}
		types = append(types, TypeUnknown)
	})
	return append([]string(nil), types...)
}

var (
	typesOnce sync.Once
	types     []string
)
