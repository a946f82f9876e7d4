package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/projections"
)

// fillLog appends a realistic log of about n events: jobs of 100
// documents, each started and tagged (a few failed), with async publishes.
func fillLog(tb testing.TB, js jetstream.JetStream, n int) int {
	return fillLogWith(tb, js, n, nil)
}

// fillLogWith is fillLog with seal, if set, applied to every event before
// it is published (seal document data as serve's log does).
func fillLogWith(tb testing.TB, js jetstream.JetStream, n int, seal func(events.Envelope) (events.Envelope, error)) int {
	ctx := context.Background()
	user := events.User("usr_bench", "bench@example.com")
	count := 0
	pub := func(env events.Envelope) {
		if seal != nil {
			var err error
			if env, err = seal(env); err != nil {
				tb.Fatal(err)
			}
		}
		b, _ := json.Marshal(env)
		if _, err := js.PublishAsync(env.Subject, b); err != nil {
			tb.Fatal(err)
		}
		count++
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for j := 0; count < n; j++ {
		job := "bench-" + strconv.Itoa(j)
		docs := make([]events.Document, 100)
		for i := range docs {
			docs[i] = events.Document{Row: i, FilePath: fmt.Sprintf("https://example.org/%d/%d.pdf", j, i), SourceType: "url", Title: fmt.Sprintf("Doc %d", i)}
		}
		mk := func(ev events.Event, actor events.Actor) events.Envelope {
			env, _ := events.New(job, actor, ev)
			env.Time = t0.Add(time.Duration(count) * time.Millisecond)
			return env
		}
		pub(mk(events.DocumentsSubmitted{InputID: "in" + job, Documents: docs}, user))
		pub(mk(events.JobStarted{InputID: "in" + job, Chunks: 1, Total: 100, Config: events.JobConfig{Model: "openai/gpt-4o-mini", NumPages: 3, NumTags: 8}}, user))
		w := events.Worker("w1")
		for i := 0; i < 100; i++ {
			pub(mk(events.DocumentStarted{Row: i, Attempt: 1}, w))
			md := events.TagMetadata{Model: "openai/gpt-4o-mini", PagesRead: 3, TotalTokens: 900 + i, DurationMS: int64(800 + i*7)}
			if i%17 == 0 {
				pub(mk(events.DocumentFailed{Row: i, Attempt: 1, Error: "HTTP 404", Code: "fetch_not_found", Metadata: md}, w))
			} else {
				pub(mk(events.DocumentTagged{Row: i, Attempt: 1, Tags: []string{"water quality", "jal jeevan mission", "circular"}, Metadata: md}, w))
			}
		}
		pub(mk(events.JobCompleted{Processed: 94, Failed: 6}, events.System))
		if j%10 == 0 { // 2,000 in flight at most: a loaded machine stalls above 4,000
			<-js.PublishAsyncComplete()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
	}
	return count
}

// BenchmarkRebuild replays a log of REBUILD_EVENTS (default 1,000,000)
// events into all read models, next to a raw ordered-consumer read of the
// same log in the same run.
func BenchmarkRebuild(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("REBUILD_EVENTS")); err == nil {
		n = v
	}
	conn := natstest.Start(b, "")
	store, err := jsstore.Open(context.Background(), conn.JS, jsstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	total := fillLog(b, conn.JS, n)
	b.Logf("filled %d events in %s", total, time.Since(start).Round(time.Millisecond))
	ctx := context.Background()

	b.Run("raw-ordered-consumer", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.ReportMetric(rawOrderedRate(b, conn.JS, total), "events/s")
		}
	})
	b.Run("store-read-decoded", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			start := time.Now()
			seen := 0
			if err := store.Read(ctx, events.SubjectAll, 1, func(events.Envelope) error { seen++; return nil }); err != nil {
				b.Fatal(err)
			}
			if seen != total {
				b.Fatalf("read %d of %d", seen, total)
			}
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "events/s")
		}
	})
	b.Run("all-read-models", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			start := time.Now()
			r := projections.NewRunner(store, projections.NewJobStatus(), projections.NewDocumentResults(), projections.NewAnalytics())
			if err := r.CatchUp(ctx); err != nil {
				b.Fatal(err)
			}
			if r.Applied() < uint64(total) {
				b.Fatalf("applied %d of %d", r.Applied(), total)
			}
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "events/s")
		}
	})
}

// rawOrderedRate reads the first total events of the log with an ordered
// consumer and nothing else: the reference every rebuild rate is a ratio of.
func rawOrderedRate(b *testing.B, js jetstream.JetStream, total int) float64 {
	ctx := context.Background()
	start := time.Now()
	st, err := js.Stream(ctx, events.Stream)
	if err != nil {
		b.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		b.Fatal(err)
	}
	for seen := 0; seen < total; seen++ {
		if _, err := it.Next(); err != nil {
			b.Fatal(err)
		}
	}
	it.Stop()
	return float64(total) / time.Since(start).Seconds()
}
