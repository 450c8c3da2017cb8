package version

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestResolveEveryBuildPath: what each way of building the binary leaves in
// it, and what Get makes of it.
func TestResolveEveryBuildPath(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "-trimpath", Value: "true"}, {Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-11-28T23:01:57Z"},
			{Key: "vcs.modified", Value: modified}}
	}
	const rev = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
	for _, tc := range []struct {
		name               string
		ldVersion, ldCommt string
		bi                 *debug.BuildInfo
		want               Info
	}{
		{"make build / Dockerfile: -X wins over the build information", "v1.4.0-3-g1a2b3c4", "1a2b3c4",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")},
			Info{"v1.4.0-3-g1a2b3c4", "1a2b3c4", "go1.26.8"}},
		{"go install ...@v1.4.0", "", "",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}},
			Info{"v1.4.0", "none", "go1.26.8"}},
		{"go install ...@<commit>: a pseudo-version names the revision", "", "",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.1-0.20261128230157-1a2b3c4d5e6f"}},
			Info{"v1.4.1-0.20261128230157-1a2b3c4d5e6f", "1a2b3c4d5e6f", "go1.26.8"}},
		{"go build in a clean clone", "", "",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261128230157-1a2b3c4d5e6f"}, Settings: vcs(rev, "false")},
			Info{"v0.0.0-20261128230157-1a2b3c4d5e6f", "1a2b3c4d5e6f", "go1.26.8"}},
		{"go build in a modified clone", "", "",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261128230157-1a2b3c4d5e6f+dirty"}, Settings: vcs(rev, "true")},
			Info{"v0.0.0-20261128230157-1a2b3c4d5e6f+dirty", "1a2b3c4d5e6f-dirty", "go1.26.8"}},
		{"go build without VCS information", "", "",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			Info{"dev", "none", "go1.26.8"}},
		{"no build information at all", "", "", nil, Info{"dev", "none", runtime.Version()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, resolve(tc.ldVersion, tc.ldCommt, tc.bi))
		})
	}
}

func TestInfoString(t *testing.T) {
	require.Equal(t, "v1.4.0 (commit 1a2b3c4, go1.26.8)", Info{"v1.4.0", "1a2b3c4", "go1.26.8"}.String())
	require.Equal(t, Get(), Get())
	require.Equal(t, Get().Version, Version())
	require.Equal(t, Get().Commit, Commit())
}
