package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkWatchIdle measures an idle, signed-in `emergencydesk watch`:
// resident memory and CPU over a minute (targets: RSS < 40 MB, CPU < 0.5 %),
// for the desktop binary and for the headless build (-tags headless).
// Run with: make bench BENCH=WatchIdle BENCH_PKGS=./app/
func BenchmarkWatchIdle(b *testing.B) {
	for _, tags := range []string{"migrated_fynedo", "headless"} {
		b.Run(tags, func(b *testing.B) { benchWatchIdle(b, buildBinary(b, tags)) })
	}
}

func benchWatchIdle(b *testing.B, bin string) {
	emu, home, _ := emulatorDesk(b, nil)
	w := startWatchBin(b, bin, home)
	dc := w.await("device code", 30*time.Second, func(l line) bool { return l.Type == "device_code" })
	emu.Approve(dc.Code.UserCode)
	w.healthy()
	pid := w.cmd.Process.Pid
	window := time.Minute
	if v := os.Getenv("IDLE_WINDOW"); v != "" {
		window, _ = time.ParseDuration(v)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(5 * time.Second) // let start-up settle
		cpu0, t0 := procCPU(b, pid), time.Now()
		time.Sleep(window)
		cpu1, t1 := procCPU(b, pid), time.Now()
		b.ReportMetric(100*(cpu1-cpu0).Seconds()/t1.Sub(t0).Seconds(), "cpu%")
		b.ReportMetric(float64(procRSS(b, pid))/(1<<20), "rss-MB")
		if roll, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup"); err == nil {
			b.Logf("smaps_rollup:\n%s", roll)
		}
	}
}

// procCPU is the process's user+system CPU time from /proc/<pid>/stat.
func procCPU(tb testing.TB, pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks
}

// procRSS is VmRSS in bytes.
func procRSS(tb testing.TB, pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
