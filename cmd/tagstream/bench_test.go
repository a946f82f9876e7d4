package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
)

// benchEnv is startEnv for benchmarks (which have no *testing.T).
func benchEnv(b *testing.B, workers int, tagger *fakeTagger) (*env, user) {
	cfg := config{Addr: "127.0.0.1:0", DataDir: b.TempDir(), Workers: workers, LLMBaseURL: "http://127.0.0.1:1/v1",
		MaxDocuments: 100000, DocTimeout: time.Minute, AckWait: 30 * time.Second, ShutdownGrace: time.Second, LogLevel: "error"}
	e := startEnvTB(b, cfg, tagger)
	return e, e.register(fmt.Sprintf("bench-%d@example.com", time.Now().UnixNano()))
}

func docsFor(n int) []any {
	docs := make([]any, n)
	for i := range docs {
		docs[i] = map[string]any{"file_path": fmt.Sprintf("https://docs.example.com/%06d.pdf", i), "title": fmt.Sprintf("Document %d", i)}
	}
	return docs
}

// BenchmarkStart10000 measures accepting a 10,000-document start: decode,
// validate, store the documents in chunks, commit JobStarted.
func BenchmarkStart10000(b *testing.B) {
	e, u := benchEnv(b, 1, &fakeTagger{})
	body := map[string]any{"documents": docsFor(10000), "config": map[string]any{"model_name": "builtin/keywords"}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.mustCall("POST", "/api/batch/start", u.token, body, http.StatusOK)
	}
}

// BenchmarkPipeline runs jobs to completion with a zero-latency tagger and
// reports documents per second at several worker counts.
func BenchmarkPipeline(b *testing.B) {
	for _, workers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			e, u := benchEnv(b, workers, &fakeTagger{})
			const n = 2000
			body := map[string]any{"documents": docsFor(n), "config": map[string]any{"model_name": "builtin/keywords"}}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				job := e.mustCall("POST", "/api/batch/start", u.token, body, http.StatusOK)["job_id"].(string)
				e.waitStatus(u, job, 10*time.Minute, "completed")
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "docs/s")
		})
	}
}

// BenchmarkJetStreamPublish is the reference: raw 200-byte publishes to a
// file-backed stream on the same kind of embedded server, in the same run.
func BenchmarkJetStreamPublish(b *testing.B) {
	payload := []byte(strings.Repeat("x", 200))
	setup := func(b *testing.B) jetstream.JetStream {
		conn := natstest.Start(b, "")
		if _, err := conn.JS.CreateStream(context.Background(), jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"}, Storage: jetstream.FileStorage}); err != nil {
			b.Fatal(err)
		}
		return conn.JS
	}
	b.Run("sync", func(b *testing.B) {
		js := setup(b)
		ctx := context.Background()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if _, err := js.Publish(ctx, "bench.x", payload); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
	b.Run("async", func(b *testing.B) {
		js := setup(b)
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if _, err := js.PublishAsync("bench.x", payload); err != nil {
				b.Fatal(err)
			}
		}
		<-js.PublishAsyncComplete()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
}

// BenchmarkWebSocketFanout connects FANOUT_OBSERVERS (default 500)
// observers to one job and reports the delay from each document event's
// time to its arrival at an observer (p50 and p99 over all deliveries).
func BenchmarkWebSocketFanout(b *testing.B) {
	observers := 500
	if v, err := strconv.Atoi(os.Getenv("FANOUT_OBSERVERS")); err == nil {
		observers = v
	}
	tagger := &fakeTagger{delay: 2 * time.Millisecond}
	e, u := benchEnv(b, 8, tagger)
	for i := 0; i < b.N; i++ {
		gate := make(chan struct{})
		tagger.setGate(gate)
		job := e.startJob(u, 200, nil)
		var mu sync.Mutex
		var delays []float64
		var wg, ready sync.WaitGroup
		for o := 0; o < observers; o++ {
			wg.Add(1)
			ready.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				conn, _, err := websocket.Dial(ctx, wsURL(e, job, u.token), nil)
				if err != nil {
					ready.Done()
					b.Error(err)
					return
				}
				defer conn.CloseNow()
				conn.SetReadLimit(64 << 20)
				first := true
				var mine []float64
				for {
					_, data, err := conn.Read(ctx)
					now := time.Now()
					if first {
						ready.Done()
						first = false
					}
					if err != nil {
						break
					}
					var m struct {
						Type string    `json:"type"`
						Time time.Time `json:"time"`
					}
					if json.Unmarshal(data, &m) == nil && m.Type == "document" {
						mine = append(mine, float64(now.Sub(m.Time).Microseconds())/1000)
					}
				}
				mu.Lock()
				delays = append(delays, mine...)
				mu.Unlock()
			}()
		}
		ready.Wait()
		close(gate)
		wg.Wait()
		sort.Float64s(delays)
		if len(delays) == 0 {
			b.Fatal("no deliveries")
		}
		b.ReportMetric(delays[len(delays)/2], "p50_ms")
		b.ReportMetric(delays[len(delays)*99/100], "p99_ms")
		b.ReportMetric(float64(len(delays)), "deliveries")
	}
}
