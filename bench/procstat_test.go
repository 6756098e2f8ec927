package bench

import (
	"encoding/binary"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func needProc(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		if _, err := NewProcSampler(os.Getpid()); err == nil {
			t.Errorf("NewProcSampler works on %s", runtime.GOOS)
		}
		t.Skip("/proc is Linux's")
	}
}

// burnCPU computes for about d of wall time.
func burnCPU(d time.Duration) uint64 {
	x := uint64(1)
	for end := time.Now().Add(d); time.Now().Before(end); {
		for range 10000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

var burnSink uint64

func TestProcSamplerSelf(t *testing.T) {
	needProc(t)
	s, err := NewProcSampler(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if pids := s.PIDs(); len(pids) != 1 || pids[0] != os.Getpid() {
		t.Errorf("PIDs %v", pids)
	}
	before, err := s.Sample()
	if err != nil {
		t.Fatal(err)
	}
	if before.RSS == 0 || before.Threads < 1 || before.CPUSeconds < 0 || before.At.IsZero() {
		t.Fatalf("sample %+v", before)
	}
	// The RSS is in bytes: a Go test binary has megabytes, not kilobytes.
	if before.RSS < 1<<20 {
		t.Errorf("RSS %d bytes: kB not converted?", before.RSS)
	}

	// Burn CPU, not time: about 50 ms at a go, until the clock ticks show
	// it (a loaded machine may give the loop less than its wall time).
	after := before
	for deadline := time.Now().Add(10 * time.Second); after.CPUSeconds < before.CPUSeconds+0.04; {
		if time.Now().After(deadline) {
			t.Fatalf("CPU seconds went from %v to %v after 10 s of busy loops", before.CPUSeconds, after.CPUSeconds)
		}
		burnSink += burnCPU(50 * time.Millisecond)
		if after, err = s.Sample(); err != nil {
			t.Fatal(err)
		}
	}
	if !after.At.After(before.At) {
		t.Errorf("sample times %v, %v", before.At, after.At)
	}

	// Against Go's own count of the threads: the same order.
	if after.Threads < 1 || after.Threads > 10000 {
		t.Errorf("%d threads", after.Threads)
	}

	st := s.Stats(before, after, after, 10, 2_000_000, 4)
	if len(st.PIDs) != 1 || st.PIDs[0] != os.Getpid() || st.CPUSeconds <= 0 || st.CPUPerMillion != st.CPUSeconds/2 ||
		st.CPUPerConn != st.CPUSeconds*1e3/4 || st.Threads != after.Threads {
		t.Errorf("stats %+v", st)
	}
}

func TestProcSamplerNoProcess(t *testing.T) {
	needProc(t)
	// pid_max itself is never a pid: pids are below it.
	pid := 1 << 22
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			pid = n
		}
	}
	_, err := NewProcSampler(pid)
	if err == nil || !strings.Contains(err.Error(), "no process with pid "+strconv.Itoa(pid)) {
		t.Errorf("pid %d: %v", pid, err)
	}
	for _, pid := range []int{0, -1} {
		if _, err := NewProcSampler(pid); err == nil {
			t.Errorf("pid %d: no error", pid)
		}
	}
}

// TestProcSamplerSeveral samples two processes as one server: threads
// and RSS add up, and the sampler fails once one of them has exited.
func TestProcSamplerSeveral(t *testing.T) {
	needProc(t)
	var cmds []*exec.Cmd
	var pids []int
	for range 2 {
		cmd := exec.Command("sleep", "120")
		if err := cmd.Start(); err != nil {
			t.Skip("no sleep command:", err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		cmds = append(cmds, cmd)
		pids = append(pids, cmd.Process.Pid)
	}
	both, err := NewProcSampler(pids...)
	if err != nil {
		t.Fatal(err)
	}
	if got := both.PIDs(); !reflect.DeepEqual(got, pids) {
		t.Errorf("PIDs %v, want %v", got, pids)
	}
	// sleep is single-threaded and its memory does not move while it
	// sleeps; until then (the exec, the loader) it does: sample again
	// until the samples agree, or give up after a while.
	var sum ProcSample
	var rss uint64
	for deadline := time.Now().Add(5 * time.Second); ; {
		rss = 0
		for _, pid := range pids {
			one, err := NewProcSampler(pid)
			if err != nil {
				t.Fatal(err)
			}
			s, err := one.Sample()
			if err != nil {
				t.Fatal(err)
			}
			rss += s.RSS
		}
		if sum, err = both.Sample(); err != nil {
			t.Fatal(err)
		}
		if sum.RSS == rss || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if sum.Threads != 2 || sum.RSS != rss || sum.RSS == 0 {
		t.Errorf("sample %+v; want 2 threads and %d bytes", sum, rss)
	}
	if st := both.Stats(sum, sum, sum, 1, 0, 0); !reflect.DeepEqual(st.PIDs, pids) {
		t.Errorf("stats PIDs %v", st.PIDs)
	}
	_ = cmds[1].Process.Kill()
	_ = cmds[1].Wait()
	if _, err := both.Sample(); err == nil {
		t.Error("a sampler of an exited process still samples")
	}
	if _, err := NewProcSampler(); err == nil {
		t.Error("a sampler of no process")
	}
}

func TestParseProcStat(t *testing.T) {
	// A command with spaces and parentheses, as a process may name itself.
	line := "1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 2000 0 5 0 " +
		"250 75 0 0 20 0 9 0 123456 1000000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n"
	st, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.utime != 250 || st.stime != 75 || st.start != 123456 {
		t.Errorf("%+v", st)
	}
	for _, bad := range []string{"", "1234 no parens", "1234 (x) S 1 2 3", "1234 (x) S 1 1 1 0 -1 0 0 0 0 0 ten 75 0 0 20 0 9 0 1"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseProcStatus(t *testing.T) {
	status := "Name:\twssd\nState:\tS (sleeping)\nVmPeak:\t  900000 kB\nVmRSS:\t   12345 kB\nRssAnon:\t 1000 kB\nThreads:\t17\n"
	rss, threads, err := parseProcStatus([]byte(status))
	if err != nil || rss != 12345*1024 || threads != 17 {
		t.Errorf("rss %d threads %d err %v", rss, threads, err)
	}
	// A zombie has no memory lines.
	rss, threads, err = parseProcStatus([]byte("Name:\tz\nState:\tZ (zombie)\nThreads:\t1\n"))
	if err != nil || rss != 0 || threads != 1 {
		t.Errorf("zombie: rss %d threads %d err %v", rss, threads, err)
	}
	for _, bad := range []string{"", "VmRSS:\t12 kB\n", "VmRSS:\t12 MB\nThreads:\t1\n", "VmRSS:\tx kB\nThreads:\t1\n", "Threads:\tmany\n"} {
		if _, _, err := parseProcStatus([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestProcStats(t *testing.T) {
	start := ProcSample{RSS: 10 << 20, CPUSeconds: 2, Threads: 4}
	peak := ProcSample{RSS: 110 << 20, CPUSeconds: 5, Threads: 8}
	end := ProcSample{RSS: 20 << 20, CPUSeconds: 7, Threads: 6}
	st := (&ProcSampler{procs: []proc{{pid: 9}}}).Stats(start, peak, end, 10000, 4_000_000, 20000)
	want := ServerStats{PIDs: []int{9}, RSSStart: 10 << 20, RSSPeak: 110 << 20, RSSEnd: 20 << 20, CPUSeconds: 5, Threads: 6,
		PeakConns: 10000, RSSPerConn: float64(100<<20) / 10000, CPUPerMillion: 1.25, CPUPerConn: 0.25}
	if !reflect.DeepEqual(*st, want) {
		t.Errorf("stats\n%+v\nwant\n%+v", *st, want)
	}
	// Zero-safe: no connections, no messages, RSS that shrank, a CPU
	// count that went back, a nil sampler.
	st = (*ProcSampler)(nil).Stats(end, start, start, 0, 0, 0)
	if st.RSSPerConn != 0 || st.CPUPerMillion != 0 || st.CPUPerConn != 0 || st.CPUSeconds != 0 || st.PIDs != nil {
		t.Errorf("zero: %+v", st)
	}
	st = (&ProcSampler{}).Stats(peak, start, end, 5, 0, 0)
	if st.RSSPerConn != 0 {
		t.Errorf("shrinking RSS: %v per connection", st.RSSPerConn)
	}
}

func TestClockTicks(t *testing.T) {
	word := strconv.IntSize / 8
	put := func(b []byte, v uint64) []byte {
		if word == 4 {
			return binary.NativeEndian.AppendUint32(b, uint32(v))
		}
		return binary.NativeEndian.AppendUint64(b, v)
	}
	var auxv []byte
	for _, kv := range [][2]uint64{{6, 4096}, {atClockTick, 250}, {0, 0}, {atClockTick, 999}} {
		auxv = put(put(auxv, kv[0]), kv[1])
	}
	if got := auxvValue(auxv, atClockTick); got != 250 {
		t.Errorf("AT_CLKTCK %d, want 250", got)
	}
	if got := auxvValue(auxv[:2*word], atClockTick); got != 0 {
		t.Errorf("absent: %d", got)
	}
	if got := auxvValue(auxv[:3], atClockTick); got != 0 {
		t.Errorf("short: %d", got)
	}
	if hz := clockTicks(); hz == 0 || hz > 10000 {
		t.Errorf("clock ticks %d", hz)
	} else {
		t.Logf("clock ticks: %d Hz", hz)
	}
}
