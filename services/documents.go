package services

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/fetch"
)

// System fields a column can be mapped to.
const (
	FieldTitle       = "title"
	FieldFilePath    = "file_path"
	FieldSourceType  = "file_source_type"
	FieldDescription = "description"
)

// Source types, as the fetcher names them.
const (
	SourceURL   = fetch.TypeURL
	SourceLocal = fetch.TypeLocal
	SourceS3    = fetch.TypeS3
	// SourceUpload: bytes sent with the request (single process only).
	SourceUpload = fetch.TypeUpload
)

// schemeRE matches a URL scheme ("file://", "ftp://"); the fetcher infers
// local for anything not http(s) or s3, so other schemes are refused here.
var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)

var systemFields = map[string]bool{FieldTitle: true, FieldFilePath: true, FieldSourceType: true, FieldDescription: true}

// ResultFields are the fields results add to a document's columns. A
// column of that name was dropped from JSON results (the field won) and
// doubled in the CSV export's header, where a reader mapping by name took
// the last one: row_id 99 for row 0. It is refused at the start instead.
var ResultFields = []string{"row_id", "status", "tags", "error", "error_code", "attempts", "metadata"}

// MaxDocumentBytes bounds one document's JSON, so every chunk of documents
// fits a JetStream message.
const MaxDocumentBytes = 64 << 10

// NormalizeDocuments turns client rows into documents: columns named in
// mapping become the system field they map to, system-named columns are
// used as they are, and every other column is kept as an extra. Errors
// name the field and row.
func NormalizeDocuments(rows []map[string]any, mapping map[string]string) ([]events.Document, error) {
	return normalizeDocuments(rows, mapping, false)
}

// normalizeDocuments is NormalizeDocuments; uploads says whether the
// upload source type is allowed, which only ProcessSingle may set: a
// client naming an upload could otherwise point a job at stored bytes.
func normalizeDocuments(rows []map[string]any, mapping map[string]string, uploads bool) ([]events.Document, error) {
	if err := checkMapping(mapping); err != nil {
		return nil, err
	}
	docs := make([]events.Document, len(rows))
	for i, row := range rows {
		d, err := normalizeRow(i, row, mapping, uploads)
		if err != nil {
			return nil, err
		}
		docs[i] = d
	}
	return docs, nil
}

func checkMapping(mapping map[string]string) error {
	targets := map[string]string{}
	for _, col := range slices.Sorted(maps.Keys(mapping)) {
		field := mapping[col]
		key := fmt.Sprintf("column_mapping[%q]", col)
		if !systemFields[field] {
			return apperr.Field(key, "%q is not a system field (title, file_path, file_source_type, description)", field)
		}
		if other, dup := targets[field]; dup {
			return apperr.Field(key, "columns %q and %q both map to %s", other, col, field)
		}
		targets[field] = col
	}
	return nil
}

func normalizeRow(i int, row map[string]any, mapping map[string]string, uploads bool) (events.Document, error) {
	d := events.Document{Row: i}
	if row == nil {
		return d, apperr.Field(fmt.Sprintf("documents[%d]", i), "must be an object")
	}
	fields := map[string]string{}
	// Fields that a mapped column of this row provides: a column named like
	// such a field is ignored, whether its name sorts before or after.
	shadowed := map[string]bool{}
	for col, field := range mapping {
		if _, ok := row[col]; ok {
			shadowed[field] = true
		}
	}
	for _, col := range slices.Sorted(maps.Keys(row)) {
		val := row[col]
		field, mapped := mapping[col]
		if !mapped && systemFields[col] {
			if shadowed[col] {
				continue
			}
			field, mapped = col, true
		}
		if !mapped {
			if slices.Contains(ResultFields, col) {
				return d, apperr.Field(fmt.Sprintf("documents[%d].%s", i, col),
					"is a field the results add (%s): rename the column", strings.Join(ResultFields, ", "))
			}
			if d.Extra == nil {
				d.Extra = map[string]any{}
			}
			d.Extra[col] = val
			continue
		}
		s, ok := val.(string)
		if !ok && val != nil {
			return d, apperr.Field(fmt.Sprintf("documents[%d].%s", i, field), "must be a string")
		}
		fields[field] = strings.TrimSpace(s)
	}
	d.Title, d.FilePath, d.Description = fields[FieldTitle], fields[FieldFilePath], fields[FieldDescription]
	if err := checkPath(i, &d, fields[FieldSourceType], uploads); err != nil {
		return d, err
	}
	if d.Title == "" {
		d.Title = path.Base(strings.TrimRight(d.FilePath, "/"))
	}
	if b, _ := json.Marshal(d); len(b) > MaxDocumentBytes {
		return d, apperr.Field(fmt.Sprintf("documents[%d]", i), "is %d bytes, more than the %d allowed per document", len(b), MaxDocumentBytes)
	}
	return d, nil
}

func checkPath(i int, d *events.Document, sourceType string, uploads bool) error {
	field := fmt.Sprintf("documents[%d].file_path", i)
	if d.FilePath == "" {
		return apperr.Field(field, "is required (map a column to file_path with column_mapping)")
	}
	if len(d.FilePath) > 4096 || strings.ContainsAny(d.FilePath, "\x00\r\n") {
		return apperr.Field(field, "is not a valid path or URL")
	}
	switch strings.ToLower(sourceType) {
	case "":
		d.SourceType = fetch.InferType(d.FilePath)
	case SourceURL, SourceLocal, SourceS3:
		d.SourceType = strings.ToLower(sourceType)
	case SourceUpload:
		if !uploads {
			return apperr.Field(fmt.Sprintf("documents[%d].file_source_type", i), "upload is only for POST /api/single/process; use url, local or s3")
		}
		d.SourceType = SourceUpload
	default:
		return apperr.Field(fmt.Sprintf("documents[%d].file_source_type", i), "must be url, local or s3, not %q", sourceType)
	}
	switch d.SourceType {
	case SourceURL:
		u, err := url.Parse(d.FilePath)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return apperr.Field(field, "must be an http:// or https:// URL")
		}
	case SourceS3:
		if !strings.HasPrefix(strings.ToLower(d.FilePath), "s3://") {
			return apperr.Field(field, "must be an s3://bucket/key URL")
		}
	case SourceLocal:
		if m := schemeRE.FindStringSubmatch(d.FilePath); m != nil {
			// file:///etc/passwd is not a path under the local root that
			// happens to contain a colon: say what is supported instead.
			return apperr.Field(field, "has unsupported scheme %q: use http://, https://, s3:// or a path under the server's local root", strings.ToLower(m[1]))
		}
		for _, part := range strings.FieldsFunc(d.FilePath, func(r rune) bool { return r == '/' || r == '\\' }) {
			if part == ".." {
				return apperr.Field(field, "must not contain '..'")
			}
		}
	}
	return nil
}
