// Package version is the one source of the build's version and commit. It
// is what `dispatcher version` prints, what every instance's heartbeat
// carries (the VERSION column of `dispatcher status`), and what anything
// else that names the build (a build_info metric) should read.
//
// Every build path sets it:
//
//   - `make build` (and so `make run`) and deploy/Dockerfile link the values
//     in: -ldflags "-X github.com/dispatcher-bot/dispatcher/internal/version.version=V
//     -X github.com/dispatcher-bot/dispatcher/internal/version.commit=C";
//   - `go install github.com/dispatcher-bot/dispatcher/cmd/dispatcher@v1.2.3`
//     records the module version v1.2.3 in the binary;
//   - a plain `go build` in a git clone records the module's pseudo-version
//     and the revision (vcs.revision, vcs.modified);
//
// Values linked in with -X win; otherwise they are read from the binary's
// build information (runtime/debug.ReadBuildInfo). A build with neither
// (a `go build` outside a clone, or with -buildvcs=false) reports version
// "dev" and commit "none".
package version

import (
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
)

// Set with -ldflags -X; empty when the build did not set them.
var (
	version string
	commit  string
)

// Info is what a build says about itself.
type Info struct {
	Version string // e.g. v1.4.0, v0.0.0-20261128230157-1a2b3c4d5e6f+dirty, or "dev"
	Commit  string // the git revision, 12 hex characters, "-dirty" appended for a modified tree; or "none"
	Go      string // the Go release that built it, e.g. go1.26.8
}

// String is the line `dispatcher version` prints after "dispatcher ".
func (i Info) String() string { return i.Version + " (commit " + i.Commit + ", " + i.Go + ")" }

var (
	once   sync.Once
	cached Info
)

// Get returns the build's Info.
func Get() Info {
	once.Do(func() {
		bi, _ := debug.ReadBuildInfo()
		cached = resolve(version, commit, bi)
	})
	return cached
}

// Version returns Get().Version.
func Version() string { return Get().Version }

// Commit returns Get().Commit.
func Commit() string { return Get().Commit }

// resolve combines the linked-in values with the build information bi
// (nil when the binary has none).
func resolve(ldVersion, ldCommit string, bi *debug.BuildInfo) Info {
	info := Info{Version: ldVersion, Commit: ldCommit, Go: runtime.Version()}
	if bi != nil {
		if bi.GoVersion != "" {
			info.Go = bi.GoVersion
		}
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		if info.Commit == "" {
			info.Commit = vcsCommit(bi.Settings)
		}
		if info.Commit == "" {
			info.Commit = pseudoCommit(bi.Main.Version)
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "none"
	}
	return info
}

// vcsCommit returns the short revision recorded by the go command, "" when
// none was.
func vcsCommit(settings []debug.BuildSetting) string {
	var rev string
	dirty := false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return ""
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty && !strings.HasSuffix(rev, "-dirty") {
		rev += "-dirty"
	}
	return rev
}

// pseudo matches the end of a pseudo-version (v0.0.0-20261128230157-1a2b3c4d5e6f,
// v1.2.4-0.20261128230157-1a2b3c4d5e6f, with an optional +dirty or
// +incompatible): its 12-character revision.
var pseudo = regexp.MustCompile(`[-.][0-9]{14}-([0-9a-f]{12})(\+[0-9A-Za-z.-]+)?$`)

// pseudoCommit returns the revision a pseudo-version names (`go install
// ...@<commit>` builds from the module cache, without VCS settings), "" for
// any other version.
func pseudoCommit(v string) string {
	m := pseudo.FindStringSubmatch(v)
	if m == nil {
		return ""
	}
	return m[1]
}
