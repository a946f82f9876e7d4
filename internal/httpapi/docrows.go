package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/tagstream/tagstream/internal/apperr"
)

// defaultMaxDocuments is TAGSTREAM_MAX_DOCUMENTS's default, for a server
// built without it (tests).
const defaultMaxDocuments = 10000

// docRows is a request's documents, read one at a time: a row that is
// not an object is refused as soon as it is met, and rows past max are
// counted, not kept. Decoded whole, 32 MiB of [1,1,1,...] became 16
// million values (2.6 GB allocated, 16 s) before the first was looked at.
type docRows struct {
	max  int    // 0: defaultMaxDocuments
	per  string // what the limit is per: "job" unless set
	rows []json.RawMessage
}

func (d *docRows) UnmarshalJSON(b []byte) error {
	// A key given twice calls this twice: the last one wins, as it would
	// for a slice, and the limit holds for it (appending, 1,100 copies of
	// 10,000 rows passed it).
	d.rows = nil
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	max := d.max
	if max <= 0 {
		max = defaultMaxDocuments
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	t, err := dec.Token()
	if err != nil || t != json.Delim('[') {
		return apperr.Field("documents", "must be an array of objects (one per document), not %s", tokenKind(t))
	}
	var skip json.RawMessage // past the limit, rows are counted, not kept
	n := 0
	for ; dec.More(); n++ {
		if n >= max {
			if err := dec.Decode(&skip); err != nil {
				return apperr.Field("documents", "malformed JSON")
			}
			continue
		}
		var r json.RawMessage
		if err := dec.Decode(&r); err != nil || len(r) == 0 || r[0] != '{' {
			return apperr.Field(fmt.Sprintf("documents[%d]", n), "must be an object of columns")
		}
		d.rows = append(d.rows, r)
	}
	if n > max {
		per := d.per
		if per == "" {
			per = "job"
		}
		return &apperr.Error{Code: apperr.TooLarge, Field: "documents",
			Message: fmt.Sprintf("documents: %d documents exceed the limit of %d per %s", n, max, per)}
	}
	return nil
}

// tokenKind names a JSON token's kind for an error message.
func tokenKind(t json.Token) string {
	switch t.(type) {
	case json.Delim:
		if t == json.Delim('{') {
			return "an object"
		}
		return "an array"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "valid JSON"
}
