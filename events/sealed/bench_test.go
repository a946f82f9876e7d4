package sealed_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/events/sealed"
	"github.com/tagstream/tagstream/internal/datakeys"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
)

// What sealing costs a reader (a projection rebuild decodes every event):
// Open (decrypt and decode) against a plain Decode of the same event in
// the clear, per event type; Seal is the writer's cost. Compare the ns/op
// of Open with Decode of the same type in one run (go test -bench . -run
// ^$ ./events/sealed).
func BenchmarkSealing(b *testing.B) {
	c, _ := datakeys.NewCipher(bytes.Repeat([]byte{9}, 32))
	key := func() (events.Cipher, error) { return c, nil }
	chunk := events.DocumentsSubmitted{InputID: "in-1"}
	for i := range 100 {
		chunk.Documents = append(chunk.Documents, events.Document{Row: i, Title: fmt.Sprintf("Circular %d on water supply", i),
			FilePath: fmt.Sprintf("https://example.org/circulars/%d.pdf", i), SourceType: "url", Extra: map[string]any{"district": "Pune"}})
	}
	for _, ev := range []events.Event{
		events.DocumentTagged{Row: 3, Attempt: 1, Tags: []string{"water supply", "pune", "municipal", "circular"},
			Metadata: events.TagMetadata{Method: "text", PagesRead: 3, PageCount: 5, TextLength: 4210, Model: "openai/gpt-4o-mini",
				PromptTokens: 1200, CompletionTokens: 40, TotalTokens: 1240, Calls: 1, DurationMS: 812, ContentSHA256: "ab12"}},
		chunk,
	} {
		plain, err := events.New("job-1", events.System, ev)
		if err != nil {
			b.Fatal(err)
		}
		sealedEnv, err := events.Seal(plain, c)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(ev.EventType()+"/Decode", func(b *testing.B) {
			for b.Loop() {
				if _, err := plain.Decode(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(ev.EventType()+"/Open", func(b *testing.B) {
			for b.Loop() {
				if _, err := events.Open(sealedEnv, key); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(ev.EventType()+"/Seal", func(b *testing.B) {
			for b.Loop() {
				if _, err := events.Seal(plain, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// What a rebuild reading the log sees: the same log of jobs of 100
// documents (a chunk, a start, a start and an outcome per document, a
// completion), appended once in the clear and once sealed, read back and
// decoded through JetStream; ns/op is per event.
func BenchmarkReadLog(b *testing.B) {
	const jobs = 50 // 10,150 events a log
	conn := natstest.Start(b, "")
	ctx := context.Background()
	raw, err := jsstore.Open(ctx, conn.JS, jsstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	keys := newMemKeys()
	fill := func(store events.Store, prefix string) int {
		n := 0
		add := func(job string, ev events.Event) {
			env, err := events.New(job, events.System, ev)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := store.Append(ctx, env, nil); err != nil {
				b.Fatal(err)
			}
			n++
		}
		for j := range jobs {
			job := fmt.Sprintf("%s-%d", prefix, j)
			docs := make([]events.Document, 100)
			for i := range docs {
				docs[i] = events.Document{Row: i, FilePath: fmt.Sprintf("https://example.org/%d/%d.pdf", j, i), SourceType: "url", Title: fmt.Sprintf("Doc %d", i)}
			}
			add(job, events.DocumentsSubmitted{InputID: "in" + job, Documents: docs})
			add(job, events.JobStarted{InputID: "in" + job, Chunks: 1, Total: 100})
			for i := range 100 {
				add(job, events.DocumentStarted{Row: i, Attempt: 1})
				add(job, events.DocumentTagged{Row: i, Attempt: 1, Tags: []string{"water quality", "jal jeevan mission", "circular"},
					Metadata: events.TagMetadata{Model: "openai/gpt-4o-mini", PagesRead: 3, TotalTokens: 900 + i, DurationMS: 800}})
			}
			add(job, events.JobCompleted{Processed: 100})
		}
		return n
	}
	n := fill(raw, "plain")
	fill(sealed.New(raw, keys), "sealed")
	errDone := errors.New("done")
	read := func(b *testing.B, store events.Store, from uint64) {
		for b.Loop() {
			got := 0
			err := store.Read(ctx, events.SubjectAll, from, func(env events.Envelope) error {
				got++
				if got == n {
					return errDone
				}
				return env.Load()
			})
			if !errors.Is(err, errDone) || got != n {
				b.Fatalf("read %d of %d: %v", got, n, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	}
	b.Run("plain", func(b *testing.B) { read(b, raw, 1) })
	b.Run("sealed", func(b *testing.B) { read(b, sealed.New(raw, keys), uint64(n)+1) })
}
