package services

import "testing"

// TestMappedColumnShadowsSystemColumnWhateverTheirOrder: a column mapped
// to a system field replaces the column named like that field. Columns are
// visited in name order, and the shadowed column used to be read (and
// type-checked) when its name sorted first, so the same row was refused
// or accepted depending on what the client's columns were called.
func TestMappedColumnShadowsSystemColumnWhateverTheirOrder(t *testing.T) {
	for _, col := range []string{"Doc" /* sorts before file_path */, "url" /* sorts after */} {
		rows := []map[string]any{{col: "b.pdf", FieldFilePath: 5}}
		docs, err := NormalizeDocuments(rows, map[string]string{col: FieldFilePath})
		if err != nil {
			t.Fatalf("mapped column %q: %v", col, err)
		}
		if docs[0].FilePath != "b.pdf" {
			t.Fatalf("mapped column %q: file_path %q, want b.pdf", col, docs[0].FilePath)
		}
	}
}
