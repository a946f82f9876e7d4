package pdftext

import (
	"context"
	"fmt"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// A page tree whose /Count claims more pages than it holds is read to its
// last page, and the count reported is the pages it holds: a one-page file
// saying 2,000,000,000 reported "pages read 3 of 2000000000".
func TestAPageCountThatLiesIsNotReported(t *testing.T) {
	b := &pdfgen.Builder{}
	c := b.AddStream("", []byte(pdfgen.HelloContent))
	pages := b.Reserve()
	page := b.Add(fmt.Sprintf("<< /Type /Page /Parent %s /MediaBox [0 0 612 792] /Resources %s /Contents %s >>",
		pdfgen.Ref(pages), pdfgen.Helvetica, pdfgen.Ref(c)))
	b.Set(pages, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 2000000000 >>", pdfgen.Ref(page)))
	data := b.Bytes(b.Add(fmt.Sprintf("<< /Type /Catalog /Pages %s >>", pdfgen.Ref(pages))), "")
	res, err := Extract(context.Background(), data, Options{MaxPages: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.PagesRead != 1 || res.PageCount != 1 || res.Text != "Hello hostile world" {
		t.Fatalf("read %d of %d pages: %q", res.PagesRead, res.PageCount, res.Text)
	}
}
