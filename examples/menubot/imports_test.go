package menubot_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The reference bot is a user of the public API: its code (tests aside)
// imports no package of the framework's internals.
func TestImportsOnlyPublicPackages(t *testing.T) {
	var files []string
	for _, dir := range []string{".", "ui"} {
		m, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		files = append(files, m...)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			require.NotContains(t, path, "/internal/", "%s imports %s", f, path)
		}
		n++
	}
	require.Greater(t, n, 5)
}
