package httpapi

import (
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
)

// Cursors come back from clients as they please: any string is either
// refused as a bad cursor (naming the parameter) or read as a place that
// encodes back to a cursor read as the same place.
func FuzzCursors(f *testing.F) {
	for _, s := range []string{"", "MTcwMDAwMDAwMDAwMDAwMDAwMDpqb2Ix", "ZDE6NDI", "%%%", "ZDE6LTE",
		base64.RawURLEncoding.EncodeToString([]byte("1:job-1:3")), base64.RawURLEncoding.EncodeToString([]byte("x:\x00:9")), "d2AAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}
	s := &Server{}
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	f.Fuzz(func(t *testing.T, v string) {
		for _, sort := range []string{projections.SortNewest, projections.SortOldest} {
			cur, err := s.parseCursor(c, v, sort)
			if err != nil {
				if fieldOf(err) != "cursor" {
					t.Fatalf("%q: %v does not name cursor", v, err)
				}
				continue
			}
			again, err := s.parseCursor(c, newCursor(cur, sort), sort)
			if err != nil || !again.Created.Equal(cur.Created) || again.ID != cur.ID {
				t.Fatalf("%q read as %+v, its own cursor as %+v (%v)", v, cur, again, err)
			}
		}
		for _, dc := range []docCursors{{}, newDocCursors([]byte("0123456789abcdef"))} {
			id, err := dc.decode(v)
			switch {
			case err != nil && fieldOf(err) != "cursor":
				t.Fatalf("%q: %v does not name cursor", v, err)
			case err == nil && (id < 1 || dc.encode(id) == nil):
				t.Fatalf("%q read as document key %d", v, id)
			case err == nil:
				if again, err := dc.decode(dc.encode(id).(string)); err != nil || again != id {
					t.Fatalf("%q read as %d, its own cursor as %d (%v)", v, id, again, err)
				}
			}
		}
	})
}

func fieldOf(err error) string {
	var e *apperr.Error
	if errors.As(err, &e) && e.Code == apperr.Invalid {
		return e.Field
	}
	return ""
}
