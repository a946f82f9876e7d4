package events_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tagstream/tagstream/events"
)

// FuzzDecodeEvent: whatever bytes a log holds under a type and version
// (an older release's bug, a hand-written export, a torn message), the
// envelope and every type's upcasters and decoder return an event or an
// error; none panics, which would stop every reader of the log at once.
func FuzzDecodeEvent(f *testing.F) {
	types := events.Types.Types()
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		env, err := events.Unmarshal(b, 1, "jobs.x.control")
		if err != nil {
			f.Fatal(p, err)
		}
		i := slices.Index(types, env.Type)
		f.Add(uint8(max(i, 0)), int8(env.Version), []byte(env.Data))
		f.Add(uint8(max(i, 0)), int8(env.Version), b) // the whole envelope, for Unmarshal
	}
	f.Add(uint8(0), int8(1), []byte(`{"id":"x","type":"JobStarted","v":1,"data":{"total":-1}}`))
	f.Fuzz(func(t *testing.T, i uint8, v int8, data []byte) {
		typ := types[int(i)%len(types)]
		if ev, err := events.Types.Decode(typ, int(v), data); err == nil && ev == nil {
			t.Fatalf("%s v%d: no event and no error", typ, v)
		}
		if env, err := events.Unmarshal(data, 1, "jobs.x.control"); err == nil {
			_, _ = env.Decode()
		}
		// What a store hands its readers: an envelope, or one they skip.
		env := events.FromLog(data, 1, "jobs.x.job")
		if err := env.Load(); err != nil && env.Type == events.SkipMalformed && !events.IsUnknown(err) {
			t.Fatalf("a message that is not an event is not skipped: %v", err)
		}
	})
}
