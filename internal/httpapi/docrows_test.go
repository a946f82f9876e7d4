package httpapi

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services"
)

// A start body of 32 MiB whose documents are not objects is refused at
// its first row, not after decoding 16 million of them; one with more
// documents than the limit stops one past it, as a 413.
func TestStartDocumentsAreReadOnlyAsFarAsNeeded(t *testing.T) {
	ones := "{\"documents\":[1" + strings.Repeat(",1", (MaxBodyBytes-20)/2) + "]}"
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := decodeStartRequest(strings.NewReader(ones), services.Caller{}, 0)
	runtime.ReadMemStats(&after)
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Field != "documents[0]" || ae.Code != apperr.Invalid {
		t.Fatalf("32 MiB of numbers: %v, want a 400 naming documents[0]", err)
	}
	// The body itself is read and checked whole (encoding/json does so
	// before any field is decoded); decoding every row took 700 MB.
	if got := after.TotalAlloc - before.TotalAlloc; got > 6*MaxBodyBytes {
		t.Errorf("refusing it allocated %d MiB", got>>20)
	}

	// As many empty objects: counted past the limit, not kept.
	empties := "{\"documents\":[{}" + strings.Repeat(",{}", (MaxBodyBytes-20)/3) + "]}"
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = decodeStartRequest(strings.NewReader(empties), services.Caller{}, 0)
	runtime.ReadMemStats(&after)
	if !errors.As(err, &ae) || ae.Code != apperr.TooLarge || !strings.Contains(ae.Message, "exceed the limit of 10000") {
		t.Fatalf("32 MiB of empty documents: %v, want a 413 naming the limit", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 6*MaxBodyBytes {
		t.Errorf("refusing 11 million empty documents allocated %d MiB", got>>20)
	}

	many := `{"documents":[{"file_path":"a.pdf"}` + strings.Repeat(`,{"file_path":"a.pdf"}`, 10) + `]}`
	_, err = decodeStartRequest(strings.NewReader(many), services.Caller{}, 10)
	if !errors.As(err, &ae) || ae.Field != "documents" || ae.Code != apperr.TooLarge {
		t.Fatalf("11 documents with a limit of 10: %v, want a 413 naming documents", err)
	}
	cmd, err := decodeStartRequest(bytes.NewReader([]byte(many)), services.Caller{}, 11)
	if err != nil || len(cmd.Documents) != 11 {
		t.Fatalf("11 documents with a limit of 11: %d, %v", len(cmd.Documents), err)
	}
	// A documents key given again replaces the first, and the limit holds.
	twice := `{"documents":[{"file_path":"a.pdf"},{"file_path":"b.pdf"}],"documents":[{"file_path":"c.pdf"}]}`
	if cmd, err := decodeStartRequest(strings.NewReader(twice), services.Caller{}, 2); err != nil || len(cmd.Documents) != 1 {
		t.Fatalf("documents given twice: %d documents, %v; want the last list's 1", len(cmd.Documents), err)
	}
	for _, body := range []string{`{"documents":null}`, `{"documents":{}}`, `{"documents":[{}, 2]}`} {
		if _, err := decodeStartRequest(strings.NewReader(body), services.Caller{}, 0); err != nil && !errors.As(err, &ae) {
			t.Errorf("%s: %v (%T), want an input error", body, err, err)
		}
	}
}
