package telemetry

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDocsListEverything keeps docs/telemetry.md in step with spec.go:
// every event has its row (domain, level, fields, when) and every reason
// code its row, exactly as the tables here would write them.
func TestDocsListEverything(t *testing.T) {
	b, err := os.ReadFile("../../docs/telemetry.md")
	require.NoError(t, err)
	doc := string(b)
	for _, s := range specs {
		require.Contains(t, doc, eventRow(s), "docs/telemetry.md: the row of %s differs from spec.go", s.Name)
	}
	for _, r := range reasons {
		row := fmt.Sprintf("| `%s` | `%s` | %s |", r.Code, r.Domain, r.Doc)
		require.Contains(t, doc, row, "docs/telemetry.md: the row of %s differs from spec.go", r.Code)
	}
}

// eventRow is the row of one event in the table of section 5.
func eventRow(s EventSpec) string {
	var f []string
	for _, x := range s.Fields {
		f = append(f, "`"+x+"`")
	}
	for _, x := range s.Optional {
		f = append(f, "`"+x+"`?")
	}
	domain := "`" + string(s.Domain) + "`"
	if s.ByReason {
		domain = "by reason"
	}
	update := ""
	if s.Update {
		update = "yes"
	}
	return fmt.Sprintf("| `%s` | %s | %s | %s | %s | %s |", s.Name, domain, s.Level, update, strings.Join(f, ", "), s.Doc)
}
