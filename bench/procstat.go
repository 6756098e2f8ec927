package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ProcSample is one reading of a process's resources.
type ProcSample struct {
	At         time.Time
	RSS        uint64  // resident set size, in bytes
	CPUSeconds float64 // user + system CPU time since the process started
	Threads    int
}

// ProcSampler reads the memory, CPU time and threads of a server's
// processes from /proc, to measure the server under load (wssbench
// --server-pid). Several processes serving one port (wssd --reuseport)
// are sampled as one server: their RSS, CPU times and threads add up. It
// works on Linux only: elsewhere NewProcSampler fails.
//
// CPU times in /proc are in clock ticks (USER_HZ). The tick rate is read
// from the process's auxiliary vector (AT_CLKTCK, what sysconf(_SC_CLK_TCK)
// reports), and taken to be 100 Hz, the value of every mainstream Linux
// architecture, if that cannot be read.
//
// A ProcSampler is safe for concurrent use.
type ProcSampler struct {
	procs []proc
}

// proc is one sampled process.
type proc struct {
	pid   int
	start uint64 // the process's start time, in ticks after boot: tells a reused pid
}

// NewProcSampler returns a sampler of the processes pids (at least one),
// after checking that each exists and its /proc files can be read.
func NewProcSampler(pids ...int) (*ProcSampler, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("procstat: sampling a process needs Linux's /proc, not available on %s", runtime.GOOS)
	}
	if len(pids) == 0 {
		return nil, errors.New("procstat: no pid")
	}
	s := &ProcSampler{}
	for _, pid := range pids {
		if pid <= 0 {
			return nil, fmt.Errorf("procstat: invalid pid %d", pid)
		}
		p := proc{pid: pid}
		st, err := p.readStat()
		if err != nil {
			return nil, err
		}
		p.start = st.start
		s.procs = append(s.procs, p)
	}
	if _, err := s.Sample(); err != nil {
		return nil, err
	}
	return s, nil
}

// PIDs returns the sampled processes' ids.
func (s *ProcSampler) PIDs() []int {
	if s == nil {
		return nil
	}
	out := make([]int, len(s.procs))
	for i, p := range s.procs {
		out[i] = p.pid
	}
	return out
}

// Sample reads the processes' resources now, added up. It fails once one
// of them has exited, or if its pid now names another process.
func (s *ProcSampler) Sample() (ProcSample, error) {
	sum := ProcSample{At: time.Now()}
	for _, p := range s.procs {
		one, err := p.sample()
		if err != nil {
			return ProcSample{}, err
		}
		sum.RSS += one.RSS
		sum.CPUSeconds += one.CPUSeconds
		sum.Threads += one.Threads
	}
	return sum, nil
}

func (p proc) sample() (ProcSample, error) {
	st, err := p.readStat()
	if err != nil {
		return ProcSample{}, err
	}
	if p.start != 0 && st.start != p.start {
		return ProcSample{}, fmt.Errorf("procstat: process %d has exited (its pid now names another process)", p.pid)
	}
	rss, threads, err := p.readStatus()
	if err != nil {
		return ProcSample{}, err
	}
	return ProcSample{
		RSS:        rss,
		CPUSeconds: float64(st.utime+st.stime) / float64(clockTicks()),
		Threads:    threads,
	}, nil
}

// Stats derives the server's figures of a run from the samples at its
// start, at the peak of RSS and at its end, the run's connections open at
// the peak sample, and the messages received and connections opened
// during the run:
//
//   - RSSPerConn = (peak.RSS - start.RSS) / peakConns, 0 without
//     connections or when RSS did not grow;
//   - CPUSeconds = end.CPUSeconds - start.CPUSeconds (never negative);
//   - CPUPerMillion = CPUSeconds per million messages, 0 without messages;
//   - CPUPerConn = CPU milliseconds per connection opened, 0 without any.
//
// Threads is the end sample's.
func (s *ProcSampler) Stats(start, peak, end ProcSample, peakConns, received, opened uint64) *ServerStats {
	st := &ServerStats{
		RSSStart:   start.RSS,
		RSSPeak:    peak.RSS,
		RSSEnd:     end.RSS,
		CPUSeconds: max(end.CPUSeconds-start.CPUSeconds, 0),
		Threads:    end.Threads,
		PeakConns:  peakConns,
	}
	st.PIDs = s.PIDs()
	if peakConns > 0 && peak.RSS > start.RSS {
		st.RSSPerConn = float64(peak.RSS-start.RSS) / float64(peakConns)
	}
	if received > 0 {
		st.CPUPerMillion = st.CPUSeconds / (float64(received) / 1e6)
	}
	if opened > 0 {
		st.CPUPerConn = st.CPUSeconds * 1e3 / float64(opened)
	}
	return st
}

// procStat is what Sample uses of /proc/PID/stat, in clock ticks.
type procStat struct {
	utime, stime, start uint64
}

// readProcFile reads one of the process's /proc files, with an error that
// says when the process does not exist.
func (p proc) readProcFile(name string) ([]byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/" + name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("procstat: no process with pid %d: %w", p.pid, err)
	}
	if err != nil {
		return nil, fmt.Errorf("procstat: process %d: %w", p.pid, err)
	}
	return b, nil
}

// readStat reads the times of /proc/PID/stat.
func (p proc) readStat() (procStat, error) {
	b, err := p.readProcFile("stat")
	if err != nil {
		return procStat{}, err
	}
	st, err := parseProcStat(b)
	if err != nil {
		return procStat{}, fmt.Errorf("procstat: /proc/%d/stat: %w", p.pid, err)
	}
	return st, nil
}

// parseProcStat parses a /proc/PID/stat line. Its second field, the
// command in parentheses, may hold spaces and parentheses itself: the
// fields that follow start after the last ')'. utime, stime and starttime
// are fields 14, 15 and 22 (proc(5)).
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("no command field")
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3, the state
	const utime, stime, start = 14 - 3, 15 - 3, 22 - 3
	if len(f) <= start {
		return procStat{}, fmt.Errorf("%d fields, want at least %d", len(f)+2, start+3)
	}
	var st procStat
	for _, v := range []struct {
		dst *uint64
		i   int
	}{{&st.utime, utime}, {&st.stime, stime}, {&st.start, start}} {
		n, err := strconv.ParseUint(f[v.i], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("field %d: %w", v.i+3, err)
		}
		*v.dst = n
	}
	return st, nil
}

// readStatus reads VmRSS and Threads of /proc/PID/status.
func (p proc) readStatus() (rss uint64, threads int, err error) {
	b, err := p.readProcFile("status")
	if err != nil {
		return 0, 0, err
	}
	rss, threads, err = parseProcStatus(b)
	if err != nil {
		return 0, 0, fmt.Errorf("procstat: /proc/%d/status: %w", p.pid, err)
	}
	return rss, threads, nil
}

// parseProcStatus returns VmRSS, in bytes, and Threads from the text of
// /proc/PID/status. A process without memory (a zombie) has no VmRSS: its
// RSS is 0. Threads must be there.
func parseProcStatus(b []byte) (rss uint64, threads int, err error) {
	seenThreads := false
	for line := range strings.SplitSeq(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch key {
		case "VmRSS":
			f := strings.Fields(val)
			if len(f) != 2 || f[1] != "kB" {
				return 0, 0, fmt.Errorf("the VmRSS line %q: want a number of kB", strings.TrimSpace(val))
			}
			kb, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("the VmRSS line: %w", err)
			}
			rss = kb * 1024
		case "Threads":
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil {
				return 0, 0, fmt.Errorf("the Threads line: %w", err)
			}
			threads, seenThreads = n, true
		}
	}
	if !seenThreads {
		return 0, 0, errors.New("no Threads line")
	}
	return rss, threads, nil
}

// defaultClockTicks is USER_HZ on every mainstream Linux architecture.
const defaultClockTicks = 100

// clockTicks is the clock ticks per second of the times in /proc.
var clockTicks = sync.OnceValue(func() uint64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return defaultClockTicks
	}
	if hz := auxvValue(b, atClockTick); hz > 0 {
		return hz
	}
	return defaultClockTicks
})

// atClockTick is the auxiliary vector's entry for the clock tick rate
// (AT_CLKTCK in <elf.h>).
const atClockTick = 17

// auxvValue returns the value of the entry typ of an auxiliary vector
// (pairs of native words: type, value; ending with type 0), or 0 if it has
// none.
func auxvValue(b []byte, typ uint64) uint64 {
	word := strconv.IntSize / 8
	read := func(p []byte) uint64 {
		if word == 4 {
			return uint64(binary.NativeEndian.Uint32(p))
		}
		return binary.NativeEndian.Uint64(p)
	}
	for len(b) >= 2*word {
		t, v := read(b), read(b[word:])
		if t == 0 {
			break
		}
		if t == typ {
			return v
		}
		b = b[2*word:]
	}
	return 0
}
