package csvin

import (
	"fmt"
	"regexp"
	"strings"
)

// FieldRule lists the header names that mean a system field, best first.
// A header matches a name after Normalize.
type FieldRule struct {
	Field string   `json:"field"`
	Names []string `json:"names"`
}

// Rules are the auto-mapping rules, in the order fields are considered:
// a column mapped to an earlier field is not used for a later one.
var Rules = []FieldRule{
	{"file_path", []string{"file_path", "filepath", "path", "pdf_url", "url", "document_url", "file_url", "link", "pdf", "file", "pdf_link", "location", "source"}},
	{"title", []string{"title", "document_title", "doc_title", "name", "document_name", "filename", "file_name"}},
	{"description", []string{"description", "desc", "summary", "abstract", "notes"}},
}

// SystemFields are the fields a column can be mapped to.
var SystemFields = []string{"title", "file_path", "file_source_type", "description"}

var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)

// Normalize is how a header is compared with the rules' names: lower
// case, every run of characters other than a-z and 0-9 one '_', no '_' at
// either end ("Document URL" -> "document_url").
func Normalize(h string) string {
	return strings.Trim(nonAlnum.ReplaceAllString(strings.ToLower(h), "_"), "_")
}

// AutoMap returns {field: header} for the fields the rules recognise,
// skipping headers in used (already mapped by the user) and fields in
// done (already given a column by the user).
func AutoMap(header []string, used, done map[string]bool) map[string]string {
	out := map[string]string{}
	taken := map[string]bool{}
	for h := range used {
		taken[h] = true
	}
	// Each header is normalised once, not once per rule name: a CSV of
	// 100,000 columns took 2.4 s here.
	norm := make([]string, len(header))
	for i, h := range header {
		norm[i] = Normalize(h)
	}
	for _, r := range Rules {
		if done[r.Field] {
			continue
		}
	names:
		for _, name := range r.Names {
			for i, h := range header {
				if !taken[h] && norm[i] == name {
					out[r.Field], taken[h] = h, true
					break names
				}
			}
		}
	}
	return out
}

// Mapping is the API's column_mapping for a CSV: the user's 'COLUMN=field'
// flags, plus auto-mapping for every field they leave out (flags add to
// it, they do not replace it). guessed lists the auto-mapped columns for
// a notice. A column already named exactly like its field needs no entry.
func Mapping(header, flags []string) (mapping map[string]string, guessed []string, err error) {
	have := map[string]bool{}
	for _, h := range header {
		have[h] = true
	}
	system := map[string]bool{}
	for _, f := range SystemFields {
		system[f] = true
	}
	mapping = map[string]string{}
	used, done := map[string]bool{}, map[string]bool{}
	for _, f := range flags {
		i := strings.LastIndex(f, "=") // column names may contain '=', fields never do
		if i <= 0 {
			return nil, nil, fmt.Errorf("--map %q: want 'COLUMN=field'", f)
		}
		col, field := strings.TrimSpace(f[:i]), strings.TrimSpace(f[i+1:])
		if !system[field] {
			return nil, nil, fmt.Errorf("--map %q: field must be one of %s", f, strings.Join(SystemFields, ", "))
		}
		if !have[col] {
			return nil, nil, fmt.Errorf("--map %q: the CSV has no column %q (columns: %s)", f, col, someColumns(header))
		}
		if done[field] {
			return nil, nil, fmt.Errorf("--map %q: another column is already mapped to %s", f, field)
		}
		mapping[col], used[col], done[field] = field, true, true
	}
	auto := AutoMap(header, used, done)
	for _, r := range Rules {
		col, ok := auto[r.Field]
		if !ok {
			continue
		}
		used[col], done[r.Field] = true, true
		if col != r.Field {
			mapping[col] = r.Field
			guessed = append(guessed, fmt.Sprintf("%q -> %s", col, r.Field))
		}
	}
	if !done["file_path"] {
		return nil, nil, fmt.Errorf("the CSV has no file_path column and none of its columns (%s) looks like one; use --map 'COLUMN=file_path'", someColumns(header))
	}
	return mapping, guessed, nil
}

// someColumns lists a header's first columns for a message: a file of a
// million columns made an error line of 9 MB.
func someColumns(header []string) string {
	const shown = 20
	if len(header) <= shown {
		return strings.Join(header, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(header[:shown], ", "), len(header)-shown)
}
