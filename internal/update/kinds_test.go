package update

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mymmrac/telego"
	"github.com/stretchr/testify/require"
)

// TestTypesCoverTelego: every kind telego.Update carries is a name of
// Types, so the update_type counters created at 0 from Types cover every
// value Scan gives.
func TestTypesCoverTelego(t *testing.T) {
	known := map[string]bool{}
	for _, typ := range Types() {
		known[typ] = true
	}
	ut := reflect.TypeOf(telego.Update{})
	for i := 0; i < ut.NumField(); i++ {
		f := ut.Field(i)
		if f.Type.Kind() != reflect.Pointer {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		require.True(t, known[name], "telego's %s (%q) is not a name of Types", f.Name, name)
	}
}
