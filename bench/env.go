package bench

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Environment is where a run ran: what a figure is to be read against.
type Environment struct {
	Host      string   `json:"host"`
	CPUModel  string   `json:"cpu_model"`
	CPUs      int      `json:"cpus"`    // the CPUs the process may use
	Kernel    string   `json:"kernel"`  // uname's sysname, release and machine
	GoVersion string   `json:"go"`      // of the load generator
	Version   string   `json:"version"` // the load generator's module version and commit
	Command   []string `json:"command"` // the load generator's command line
}

// ReadEnvironment describes this machine and process.
func ReadEnvironment() *Environment {
	e := &Environment{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Command: os.Args, Version: buildVersion()}
	e.Host, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		e.Kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return e
}

// buildVersion is the main module's version, with the commit it was
// built from when the build recorded it.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " (" + rev + modified + ")"
	}
	return v
}

// text is the environment on one line, for the table.
func (e *Environment) text() string {
	parts := []string{"host " + e.Host}
	if e.CPUModel != "" {
		parts = append(parts, e.CPUModel)
	}
	parts = append(parts, strconv.Itoa(e.CPUs)+" CPUs")
	if e.Kernel != "" {
		parts = append(parts, e.Kernel)
	}
	parts = append(parts, e.GoVersion, "wssbench "+e.Version)
	return strings.Join(parts, " · ")
}
