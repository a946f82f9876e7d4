package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkServeRestartAtScale (issue 12 item 3): a data dir whose log
// holds SERVE_SCALE_EVENTS (default 5,000,000) events, jobs of 100
// documents (about 2.5 million documents for 5 million events), the read
// models caught up once by a first `serve`; then `serve` is restarted
// (SIGTERM, then SIGKILL) and measured as a separate process: time from
// process start to /api/ready answering 200, and resident memory (VmRSS
// once ready, VmHWM) from /proc.
//
// Building that history takes long, so the data dir is kept between runs
// in SERVE_SCALE_DIR (default $TMPDIR/tagstream-serve-scale-N); delete it
// to start over. A dir whose log was filled but whose first catch-up did
// not finish resumes the catch-up from the read models' checkpoints.
func BenchmarkServeRestartAtScale(b *testing.B) {
	n := 5_000_000
	if v, err := strconv.Atoi(os.Getenv("SERVE_SCALE_EVENTS")); err == nil && v > 0 {
		n = v
	}
	dataDir := os.Getenv("SERVE_SCALE_DIR")
	if dataDir == "" {
		dataDir = filepath.Join(os.TempDir(), "tagstream-serve-scale-"+strconv.Itoa(n))
	}
	marker := filepath.Join(dataDir, "bench-filled")
	raw, err := os.ReadFile(marker)
	if err != nil {
		if err := os.RemoveAll(dataDir); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		lastJob, count := fillEventLog(b, dataDir, n)
		b.Logf("filled %d events in %s", count, time.Since(start).Round(time.Second))
		raw = []byte(lastJob + " " + strconv.Itoa(count))
		if err := os.WriteFile(marker, raw, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	fields := strings.Fields(string(raw))
	count, _ := strconv.Atoi(fields[1])
	// The first start catches the read models up with the whole log (or
	// with what a previous run left); it is reported, not the goal.
	first := spawnServe(b, dataDir)
	catchUp := first.waitOK(b, "/api/ready", 3*time.Hour)
	first.stop(b, syscall.SIGTERM)
	b.Logf("first start: ready after %s", catchUp.Round(time.Millisecond))
	// JetStream reloads the message ids of the stream's duplicate window
	// (10 minutes) at start: a restart within 10 minutes of a burst of
	// millions of events pays for reading them all again, so say which
	// case this run measures.
	if fi, err := os.Stat(marker); err == nil {
		age := time.Since(fi.ModTime())
		b.Logf("log filled %s ago (inside the 10-minute duplicate window: %v)", age.Round(time.Second), age < 10*time.Minute)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, ph := range []struct {
			name string
			stop syscall.Signal
		}{{"after_sigterm", syscall.SIGKILL}, {"after_sigkill", syscall.SIGTERM}} {
			p := spawnServe(b, dataDir)
			ready := p.waitOK(b, "/api/ready", 5*time.Minute)
			rss, hwm := p.vm("VmRSS"), p.vm("VmHWM")
			p.stop(b, ph.stop)
			b.ReportMetric(ready.Seconds(), ph.name+"_ready_s")
			b.ReportMetric(rss, ph.name+"_rss_MiB")
			b.ReportMetric(hwm, ph.name+"_hwm_MiB")
		}
	}
	b.ReportMetric(catchUp.Seconds(), "first_catchup_s")
	b.ReportMetric(float64(count), "events")
}
