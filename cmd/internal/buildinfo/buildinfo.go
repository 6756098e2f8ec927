// Package buildinfo says which build a binary of this module is, for the
// commands' --version.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Line is what "NAME --version" prints: the main module's version, the
// commit it was built from, that commit's time and whether the tree had
// changes, then the Go version and the platform, e.g.
//
//	wssd v0.0.0-20261202210000-abc1234def56+dirty (commit abc1234, 2026-12-02T21:00:00Z, modified) go1.26.8 linux/amd64
//
// Safe for concurrent use.
func Line(name string) string {
	bi, _ := debug.ReadBuildInfo()
	return format(name, bi, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
}

// format is Line for the build bi (nil when the binary carries none).
// What the build does not record is left out.
func format(name string, bi *debug.BuildInfo, goVersion, platform string) string {
	version := "(unknown)"
	var vcs []string
	if bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			vcs = append(vcs, "commit "+rev[:min(len(rev), 7)])
		}
		if t := settings["vcs.time"]; t != "" {
			vcs = append(vcs, t)
		}
		if settings["vcs.modified"] == "true" {
			vcs = append(vcs, "modified")
		}
	}
	var b strings.Builder
	b.WriteString(name + " " + version)
	if len(vcs) > 0 {
		b.WriteString(" (" + strings.Join(vcs, ", ") + ")")
	}
	b.WriteString(" " + goVersion + " " + platform)
	return b.String()
}
