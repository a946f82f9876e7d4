package llm

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tagstream/tagstream/internal/llm/llmfake"
)

// An endpoint that answers 200 and never stops writing fails the document
// as malformed once the answer passes maxAnswerBody; it is not read whole.
func TestEndlessAnswerIsRefused(t *testing.T) {
	const offered = 64 << 20
	var written atomic.Int64
	f := newFake(t, func(_ int, _ llmfake.Request, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		if _, err := w.Write([]byte(`{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"`)); err != nil {
			return
		}
		chunk := []byte(strings.Repeat("tag, ", 64<<10/5))
		for written.Load() < offered {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
		w.Write([]byte(`"}}]}`))
	})
	_, err := testClient(f.BaseURL(), func(c *Config) { c.MaxAttempts = 1 }).Tag(context.Background(), baseRequest())
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindMalformed || !strings.Contains(e.Message, "larger than 4 MiB") {
		t.Fatalf("err = %v, want malformed: larger than 4 MiB", err)
	}
	if n := written.Load(); n >= offered {
		t.Errorf("the whole %d MiB answer was read", n>>20)
	}
}

// The prose scan tries at most maxJSONStarts places: a JSON object after
// more '{'s than that is not looked for (the answer is read as a list),
// one after fewer is found.
func TestProseScanIsBounded(t *testing.T) {
	obj := `{"names": ["Jal Shakti"], "subjects": ["water"]}`
	want := tiers{names: []string{"Jal Shakti"}, subjects: []string{"water"}}
	few := "Sure " + strings.Repeat("{x ", maxJSONStarts-1) + obj
	if got := parseAnswer(few); !reflect.DeepEqual(got, want) {
		t.Errorf("after %d stray braces: %+v", maxJSONStarts-1, got)
	}
	many := "Sure " + strings.Repeat("{x ", 10000) + obj
	if got := parseAnswer(many); len(got.names) != 0 {
		t.Errorf("after 10000 stray braces the scan went on: %+v", got.names)
	}
	long := obj + strings.Repeat(" ", maxAnswerText)
	if got := parseAnswer(long + "tail"); !reflect.DeepEqual(got, want) {
		t.Errorf("a long answer: %+v", got)
	}
}

// FuzzParseAnswer: whatever the model writes, parsing returns (within its
// budgets) tags no longer in total than what was read.
func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{
		`{"names":["a"],"subjects":["b"],"actions":["c"]}`,
		"Here are the tags:\n```json\n[\"x\", \"y\"]\n```",
		`prose {"tags": [{"tag": "z"}, ["nested", ["deep"]]]} prose`,
		"a, b; c\nTags: d",
		`[[[[[[[[[[{"name": 1}]]]]]]]]]]`,
		"{{{{[[[[",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := parseAnswer(s)
		total := 0
		for _, tag := range got.all() {
			total += len(tag)
		}
		if total > len(s)*3+16 { // an invalid byte decodes to U+FFFD, 3 bytes
			t.Fatalf("%d bytes of tags from %d bytes of answer", total, len(s))
		}
	})
}
