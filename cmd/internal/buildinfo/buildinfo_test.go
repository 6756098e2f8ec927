package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFormat(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{
			name: "from a modified checkout",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261202210000-abc1234def56+dirty"},
				Settings: settings("vcs.revision", "abc1234def5678901234567890123456789abcde", "vcs.time", "2026-12-02T21:00:00Z", "vcs.modified", "true")},
			want: "wssd v0.0.0-20261202210000-abc1234def56+dirty (commit abc1234, 2026-12-02T21:00:00Z, modified) go1.26.8 linux/amd64",
		},
		{
			name: "from a clean checkout",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
				Settings: settings("vcs.revision", "abc1234def5678901234567890123456789abcde", "vcs.time", "2026-12-02T21:00:00Z", "vcs.modified", "false")},
			want: "wssd v1.2.3 (commit abc1234, 2026-12-02T21:00:00Z) go1.26.8 linux/amd64",
		},
		{
			name: "without version control",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want: "wssd (devel) go1.26.8 linux/amd64",
		},
		{
			name: "without build information",
			want: "wssd (unknown) go1.0 linux/amd64",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := format("wssd", tc.bi, "go1.0", "linux/amd64"); got != tc.want {
				t.Errorf("format = %q\nwant      %q", got, tc.want)
			}
		})
	}
}
