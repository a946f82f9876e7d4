package events

import (
	"encoding/json"
	"reflect"

	fastjson "github.com/goccy/go-json"
)

// decodeJSON is goccy/go-json's Unmarshal, the log's hot path (a rebuild
// decodes every envelope; BENCHMARKS.md), guarded against the decoder's
// own bugs: it walks its input with unchecked indexes, and v0.10.6
// panicked on a struct key ending in a dangling escape (`{"\`,
// goccy/go-json#604; found by FuzzDecodeEvent). One malformed message
// must be an error for the reader that meets it, never a panic that stops
// the process and stops it again at every start. After a panic, v is
// reset and decoded by encoding/json, whose answer (a value or an error)
// stands.
func decodeJSON(data []byte, v any) (err error) {
	defer func() {
		if recover() != nil {
			reflect.ValueOf(v).Elem().SetZero()
			err = json.Unmarshal(data, v)
		}
	}()
	return fastjson.Unmarshal(data, v)
}
