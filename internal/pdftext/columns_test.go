package pdftext

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/pdftext/pdfgen"
)

// TestTwoColumns: a two-column page under a full-width title reads the
// title, then the left column, then the right one; hyphen repair joins
// "infor-" with "mation" below it in the same column, never with the
// left column's next line (read straight across, that made "inforleft").
func TestTwoColumns(t *testing.T) {
	left := []string{"Left column one", "left column two", "left column three", "left column four"}
	right := []string{"Right column infor-", "mation flows down", "right column three", "right column four"}
	var c strings.Builder
	c.WriteString("BT /F1 14 Tf 72 740 Td (A title across both columns of the page) Tj ET\n")
	for i := range left {
		y := 700 - 14*i
		fmt.Fprintf(&c, "BT /F1 10 Tf 72 %d Td (%s) Tj ET\n", y, left[i])
		fmt.Fprintf(&c, "BT /F1 10 Tf 320 %d Td (%s) Tj ET\n", y, right[i])
	}
	c.WriteString("BT /F1 10 Tf 72 600 Td (A footer line that also runs across both columns) Tj ET\n")
	b := &pdfgen.Builder{}
	data := pdfgen.OnePage(b, pdfgen.Ref(b.AddStream("", []byte(c.String()))), pdfgen.Helvetica)
	res, err := Extract(context.Background(), data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "A title across both columns of the page\n" + strings.Join(left, "\n") +
		"\nRight column information flows down\nright column three\nright column four\n" +
		"A footer line that also runs across both columns"
	if res.Text != want {
		t.Errorf("got\n%s\nwant\n%s", res.Text, want)
	}
}

// TestColumnsLeaveOneColumnAlone: a one-column page with short lines, a
// centred heading and a right-aligned page number keeps its line order.
func TestColumnsLeaveOneColumnAlone(t *testing.T) {
	var c strings.Builder
	c.WriteString("BT /F1 14 Tf 250 740 Td (Heading) Tj ET\n")
	lines := []string{"This is a long line of body text that fills the measure", "and another long line of body text follows it here", "short", "then again a long line of body text to finish", "last"}
	for i, l := range lines {
		fmt.Fprintf(&c, "BT /F1 10 Tf 72 %d Td (%s) Tj ET\n", 700-14*i, l)
	}
	c.WriteString("BT /F1 10 Tf 520 600 Td (7) Tj ET\n")
	b := &pdfgen.Builder{}
	data := pdfgen.OnePage(b, pdfgen.Ref(b.AddStream("", []byte(c.String()))), pdfgen.Helvetica)
	res, err := Extract(context.Background(), data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Heading\n" + strings.Join(lines, "\n") + "\n7"; res.Text != want {
		t.Errorf("got\n%s\nwant\n%s", res.Text, want)
	}
}
