package services

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/apperr"
)

// fuzzRows builds rows and a mapping from fuzz input in two ways: raw
// JSON (whatever a client could send), and a structured row whose system
// columns, one extra column and one mapping are chosen by the fuzzer, so
// that interesting combinations are reached without valid JSON.
func fuzzRows(rowsJSON []byte, path, srcType, col, field string, val []byte, shape uint8) ([]map[string]any, map[string]string) {
	var rows []map[string]any
	var mapping map[string]string
	if shape&1 != 0 && json.Unmarshal(rowsJSON, &rows) == nil {
		_ = json.Unmarshal(val, &mapping)
		return rows, mapping
	}
	row := map[string]any{}
	var v any = string(val)
	switch shape >> 1 & 3 {
	case 1:
		v = nil
	case 2:
		v = float64(len(val))
	case 3:
		v = map[string]any{"x": string(val)}
	}
	if shape&8 != 0 {
		row[FieldFilePath] = path
	}
	if shape&16 != 0 {
		row[FieldSourceType] = srcType
	}
	row[col] = v
	if shape&32 != 0 {
		mapping = map[string]string{col: field}
	}
	if shape&64 != 0 {
		row[col] = path // the mapped column carries the path
	}
	rows = []map[string]any{row}
	if shape&128 != 0 {
		rows = append(rows, nil, map[string]any{FieldFilePath: path})
	}
	return rows, mapping
}

// FuzzNormalizeDocuments: no panic; every refusal is an input error that
// names its field (and row); every accepted document has a path, a valid
// source type, and, when local, no ".." element.
func FuzzNormalizeDocuments(f *testing.F) {
	f.Add([]byte(`[{"file_path":"a.pdf"}]`), "a.pdf", "", "Doc", "file_path", []byte("x"), uint8(8))
	f.Add([]byte(`[{"Doc":"https://example.org/a.pdf","Name":"t"}]`), "", "", "", "", []byte(`{"Doc":"file_path","Name":"title"}`), uint8(1))
	f.Add([]byte(`[{"file_path":"../x"}]`), "../../etc/passwd", "LOCAL", "Doc", "file_path", []byte("y"), uint8(8|16|32|64))
	f.Add([]byte(`[]`), `..\..\boot.ini`, "local", "title", "file_path", []byte(""), uint8(8|32|64|128))
	f.Add([]byte(`[]`), "http://[::1]:80/a.pdf", "url", "url", "file_source_type", []byte("s3"), uint8(8|16|32))
	f.Add([]byte(`[]`), "s3://b/k", "S3", "file_path", "title", []byte("a\x00b"), uint8(2|8|16|32))
	f.Fuzz(func(t *testing.T, rowsJSON []byte, path, srcType, col, field string, val []byte, shape uint8) {
		rows, mapping := fuzzRows(rowsJSON, path, srcType, col, field, val, shape)
		docs, err := NormalizeDocuments(rows, mapping)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Field == "" {
				t.Fatalf("refusal is not an input error naming a field: %#v", err)
			}
			if !strings.HasPrefix(ae.Field, "documents[") && !strings.HasPrefix(ae.Field, "column_mapping[") {
				t.Fatalf("field %q names neither a document row nor a mapping", ae.Field)
			}
			if !strings.Contains(ae.Message, ae.Field) {
				t.Fatalf("message %q does not name field %q", ae.Message, ae.Field)
			}
			return
		}
		if len(docs) != len(rows) {
			t.Fatalf("%d documents from %d rows", len(docs), len(rows))
		}
		for i, d := range docs {
			if d.Row != i || d.FilePath == "" || strings.TrimSpace(d.FilePath) != d.FilePath {
				t.Fatalf("row %d: bad document %+v", i, d)
			}
			switch d.SourceType {
			case SourceLocal:
				for _, part := range strings.FieldsFunc(d.FilePath, func(r rune) bool { return r == '/' || r == '\\' }) {
					if part == ".." {
						t.Fatalf("row %d: local path %q has a '..' element", i, d.FilePath)
					}
				}
			case SourceURL:
				u, err := url.Parse(d.FilePath)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					t.Fatalf("row %d: url %q accepted", i, d.FilePath)
				}
			case SourceS3:
				if !strings.HasPrefix(strings.ToLower(d.FilePath), "s3://") {
					t.Fatalf("row %d: s3 path %q accepted", i, d.FilePath)
				}
			default:
				t.Fatalf("row %d: source type %q", i, d.SourceType)
			}
			if strings.ContainsAny(d.FilePath, "\x00\r\n") {
				t.Fatalf("row %d: control bytes in %q", i, d.FilePath)
			}
			// A mapped column wins over a column named like its field.
			for c, f := range mapping {
				v, ok := rows[i][c].(string)
				got := map[string]string{FieldFilePath: d.FilePath, FieldDescription: d.Description}
				if want, checked := got[f]; ok && checked && want != strings.TrimSpace(v) {
					t.Fatalf("row %d: %s is %q, but mapped column %q holds %q", i, f, want, c, v)
				}
			}
		}
	})
}
