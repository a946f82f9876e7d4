package sealed_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/memstore"
	"github.com/tagstream/tagstream/events/sealed"
	"github.com/tagstream/tagstream/events/storetest"
	"github.com/tagstream/tagstream/internal/datakeys"
)

// memKeys keeps data keys in memory (the JetStream store of them is
// tested in internal/datakeys); a destroyed key is nil.
type memKeys struct {
	mu   sync.Mutex
	keys map[string]*datakeys.Cipher
}

func newMemKeys() *memKeys { return &memKeys{keys: map[string]*datakeys.Cipher{}} }

func (m *memKeys) ForAppend(_ context.Context, job string) (events.Cipher, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.keys[job]
	if !ok {
		c, _ = datakeys.NewCipher(bytes.Repeat([]byte{byte(len(m.keys) + 1)}, 32))
		m.keys[job] = c
	}
	if c == nil {
		return nil, datakeys.ErrErased
	}
	return c, nil
}

func (m *memKeys) ForRead(_ context.Context, job string) (events.Cipher, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.keys[job]; c != nil {
		return c, nil
	}
	return nil, nil
}

func (m *memKeys) destroy(job string) {
	m.mu.Lock()
	m.keys[job] = nil
	m.mu.Unlock()
}

// The decorator is a Store like any other.
func TestSealedStoreConforms(t *testing.T) {
	storetest.Run(t, func(t *testing.T) events.Store { return sealed.New(memstore.New(), newMemKeys()) })
}

var submitted = events.DocumentsSubmitted{InputID: "in-1", Chunk: 0, Documents: []events.Document{
	{Row: 0, Title: "Harbour charter", FilePath: "https://example.org/charter.pdf", SourceType: "url",
		Description: "the 1911 charter", Extra: map[string]any{"district": "Pune", "year": float64(1911)}},
	{Row: 1, FilePath: "notice.pdf", SourceType: "local"},
}}

// Every document type round-trips through the decorator; what is stored
// holds none of the document data, and after the key is destroyed the
// readers get rows, codes and metadata without it.
func TestDocumentDataIsSealedAndOpensUntilErased(t *testing.T) {
	ctx := context.Background()
	inner, keys := memstore.New(), newMemKeys()
	store := sealed.New(inner, keys)
	evs := []events.Event{
		&submitted,
		&events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"harbour", "charter"}, Metadata: events.TagMetadata{TotalTokens: 900, CostUSD: 0.01}},
		&events.DocumentFailed{Row: 1, Attempt: 1, Error: "fetch https://example.org/notice.pdf: 404", Code: "fetch"},
		&events.DocumentReleased{Row: 1, Attempt: 1, Reason: "cannot reach https://example.org/notice.pdf", Code: "model_unreachable"},
		&events.JobCompleted{Processed: 1, Failed: 1},
	}
	for _, ev := range evs {
		env, err := events.New("job-1", events.System, ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Append(ctx, env, nil); err != nil {
			t.Fatal(err)
		}
	}
	secrets := []string{"Harbour charter", "charter.pdf", "1911", "Pune", "harbour", "notice.pdf"}
	var i int
	err := inner.Read(ctx, events.SubjectAll, 1, func(env events.Envelope) error {
		for _, s := range secrets {
			if strings.Contains(string(env.Data), s) {
				t.Errorf("stored %s holds %q: %s", env.Type, s, env.Data)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = store.Read(ctx, events.SubjectAll, 1, func(env events.Envelope) error {
		got, err := env.Decode()
		if err != nil {
			return err
		}
		want := evs[i]
		i++
		if s, ok := got.(interface{ EventType() string }); ok && events.Sealable(s.EventType()) && !events.WasSealed(env) {
			t.Errorf("%s was not stored sealed", env.Type)
		}
		clearWasSealed(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("read back\n%#v\nwant\n%#v", got, want)
		}
		again, err := events.Types.Decode(env.Type, env.Version, env.Data) // what the API serves
		if err != nil || !reflect.DeepEqual(again, want) {
			t.Errorf("opened data %s: %v", env.Data, err)
		}
		return nil
	})
	if err != nil || i != len(evs) {
		t.Fatalf("read %d: %v", i, err)
	}
	keys.destroy("job-1")
	err = store.Read(ctx, events.SubjectAll, 1, func(env events.Envelope) error {
		for _, s := range secrets {
			if strings.Contains(string(env.Data), s) {
				t.Errorf("erased %s still holds %q", env.Type, s)
			}
		}
		ev, _ := env.Decode()
		switch e := ev.(type) {
		case *events.DocumentsSubmitted:
			if !e.Erased || len(e.Documents) != 2 || e.Documents[0].SourceType != "url" || e.Documents[1].Row != 1 {
				t.Errorf("erased chunk: %+v", e)
			}
		case *events.DocumentTagged:
			if !e.Erased || e.Tags != nil || e.Metadata.TotalTokens != 900 {
				t.Errorf("erased tagging: %+v", e)
			}
		case *events.DocumentFailed:
			if !e.Erased || e.Error != "" || e.Code != "fetch" {
				t.Errorf("erased failure: %+v", e)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	env, _ := events.New("job-1", events.System, events.DocumentTagged{Row: 1, Attempt: 2, Tags: []string{"late"}})
	if _, err := store.Append(ctx, env, nil); err == nil {
		t.Fatal("appended document data for an erased job")
	}
}

func clearWasSealed(ev events.Event) {
	switch e := ev.(type) {
	case *events.DocumentsSubmitted:
		e.WasSealed = false
	case *events.DocumentTagged:
		e.WasSealed = false
	case *events.DocumentFailed:
		e.WasSealed = false
	case *events.DocumentReleased:
		e.WasSealed = false
	}
}

// A blob moved into another event does not open there.
func TestSealedBlobIsBoundToItsEvent(t *testing.T) {
	c, _ := datakeys.NewCipher(bytes.Repeat([]byte{3}, 32))
	a, _ := events.New("job-1", events.System, events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"x"}})
	b, _ := events.New("job-1", events.System, events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"y"}})
	sa, _ := events.Seal(a, c)
	sb, _ := events.Seal(b, c)
	sb.Data = sa.Data // a's sealed data in b's envelope
	if _, err := events.Open(sb, func() (events.Cipher, error) { return c, nil }); err == nil {
		t.Fatal("a blob opened in another event")
	}
}
