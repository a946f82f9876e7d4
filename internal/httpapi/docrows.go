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
// not an object is refused as soon as it is met, and reading stops one
// past max. Decoded whole, 32 MiB of [1,1,1,...] became 16 million values
// (700 MB, 16 s) before the first was looked at.
type docRows struct {
	max  int // 0: defaultMaxDocuments
	rows []json.RawMessage
}

func (d *docRows) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		d.rows = nil
		return nil
	}
	max := d.max
	if max <= 0 {
		max = defaultMaxDocuments
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return apperr.Field("documents", "must be a list of objects, one per document")
	}
	for i := 0; dec.More(); i++ {
		if i == max {
			return &apperr.Error{Code: apperr.TooLarge, Field: "documents",
				Message: fmt.Sprintf("documents: more than %d documents, the limit per job", max)}
		}
		var r json.RawMessage
		if err := dec.Decode(&r); err != nil || len(r) == 0 || r[0] != '{' {
			return apperr.Field(fmt.Sprintf("documents[%d]", i), "must be an object of columns")
		}
		d.rows = append(d.rows, r)
	}
	return nil
}
