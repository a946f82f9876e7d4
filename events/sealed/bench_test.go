package sealed_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/datakeys"
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
