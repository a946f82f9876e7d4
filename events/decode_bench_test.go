package events

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkDecodeEnvelope decodes the golden fixture of each type's
// current version, envelope then data, as a read model's catch-up does for
// every event of the log: with the decoder the log uses (goccy/go-json,
// guarded) and, as the reference, with encoding/json.
func BenchmarkDecodeEnvelope(b *testing.B) {
	type msg struct {
		raw []byte
		new func() Event
	}
	var msgs []msg
	size := 0
	for _, typ := range Types.Types() {
		v := Types.Version(typ)
		raw, err := os.ReadFile(filepath.Join("testdata", "golden", typ+".v"+strconv.Itoa(v)+".json"))
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, msg{raw, Types.types[typ].factory})
		size += len(raw)
	}
	for _, c := range []struct {
		name   string
		decode func([]byte, any) error
	}{{"goccy", decodeJSON}, {"encoding-json", json.Unmarshal}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for _, m := range msgs {
					var env Envelope
					if err := c.decode(m.raw, &env); err != nil {
						b.Fatal(err)
					}
					if err := c.decode(env.Data, m.new()); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
