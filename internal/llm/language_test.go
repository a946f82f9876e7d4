package llm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/tagstream/tagstream/internal/llm/llmfake"
	"github.com/tagstream/tagstream/internal/testenv"
)

func hindiCircular(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Corpus(t), "circular-hindi.pdftotext.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHindiCircularTagsInEnglishByDefault: the prompt asks for English, so
// a model answering a Hindi circular gives English tags, which survive
// Normalize (they used to be dropped as non-Latin: "no usable tags").
func TestHindiCircularTagsInEnglishByDefault(t *testing.T) {
	f := llmfake.New(t, llmfake.Options{Usage: testUsage}) // language-aware by default
	req := baseRequest()
	req.Text, req.Title = hindiCircular(t), ""
	res, err := testClient(f.BaseURL(), nil).Tag(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tags) != req.NumTags || !strings.Contains(strings.Join(res.Tags, ","), "ministry of education") {
		t.Fatalf("tags %q", res.Tags)
	}
	for _, tag := range res.Tags {
		if strings.ContainsFunc(tag, func(r rune) bool { return r > unicode.MaxASCII }) {
			t.Errorf("tag %q is not ASCII", tag)
		}
	}
	if p := f.Requests()[0].UserPrompt; !strings.Contains(p, englishRule) || strings.Contains(p, originalRule) {
		t.Errorf("prompt lacks the English rule:\n%s", p)
	}
}

// TestHindiCircularOriginalLanguage: tag_language original asks for the
// document's script and keeps Devanagari tags.
func TestHindiCircularOriginalLanguage(t *testing.T) {
	f := llmfake.New(t, llmfake.Options{Usage: testUsage}) // language-aware by default
	req := baseRequest()
	req.Text, req.Title, req.OriginalLanguage = hindiCircular(t), "", true
	res, err := testClient(f.BaseURL(), nil).Tag(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tags) != req.NumTags || res.Tags[0] != "शिक्षा मंत्रालय" {
		t.Fatalf("tags %q", res.Tags)
	}
	if p := f.Requests()[0].UserPrompt; !strings.Contains(p, originalRule) || strings.Contains(p, englishRule) {
		t.Errorf("prompt lacks the original-language rule:\n%s", p)
	}
}

// TestEnglishDocumentUnchangedByLanguage: an English text gets the same
// English tags either way.
func TestEnglishDocumentUnchangedByLanguage(t *testing.T) {
	for _, orig := range []bool{false, true} {
		f := llmfake.New(t, llmfake.Options{Usage: testUsage}) // language-aware by default
		req := baseRequest()
		req.OriginalLanguage = orig
		res, err := testClient(f.BaseURL(), nil).Tag(context.Background(), req)
		if err != nil || len(res.Tags) != 6 || res.Tags[0] != "jal jeevan mission" {
			t.Fatalf("original=%v: %q %v", orig, res.Tags, err)
		}
	}
}
