package ocr

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/tagstream/tagstream/internal/testenv"
	"golang.org/x/text/unicode/norm"
)

// requireOCR stops the test when tesseract or pdftoppm is missing.
func requireOCR(t testing.TB) {
	t.Helper()
	testenv.RequireTool(t, "tesseract")
	testenv.RequireTool(t, "pdftoppm")
}

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Corpus(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wordBag(s string) map[string]int {
	m := map[string]int{}
	for _, w := range strings.FieldsFunc(norm.NFC.String(strings.ToLower(s)), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.M, r)
	}) {
		m[w]++
	}
	return m
}

// recall is the share of the reference's words (with multiplicity) that
// the OCR text also has.
func recall(got, ref string) float64 {
	g, r := wordBag(got), wordBag(ref)
	total, hit := 0, 0
	for w, n := range r {
		total += n
		hit += min(n, g[w])
	}
	if total == 0 {
		return 1
	}
	return float64(hit) / float64(total)
}

// scanFixture renders one page of a corpus PDF with pdftoppm at dpi, gray,
// optionally skews it by deg and adds speckle noise, and wraps the JPEG in
// a minimal image-only PDF (DCTDecode), so fixtures are made from
// documents in the corpus rather than committed as binaries.
func scanFixture(t testing.TB, corpusName string, page, dpi int, deg float64, noise float64) []byte {
	t.Helper()
	requireOCR(t)
	dir := t.TempDir()
	src := filepath.Join(testenv.Corpus(t), corpusName)
	out, err := exec.Command("pdftoppm", "-r", fmt.Sprint(dpi), "-gray", "-f", fmt.Sprint(page), "-l", fmt.Sprint(page), "-singlefile", src, filepath.Join(dir, "p")).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	f, err := os.Open(filepath.Join(dir, "p.pgm"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := readPGM(f)
	if err != nil {
		t.Fatal(err)
	}
	img = distort(img, deg, noise)
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return imagePDF(jb.Bytes(), img.Bounds().Dx(), img.Bounds().Dy(), dpi)
}

// readPGM reads a binary (P5) 8-bit PGM as pdftoppm writes it.
func readPGM(f *os.File) (*image.Gray, error) {
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return nil, err
	}
	// Header: four whitespace-separated fields, then one whitespace byte.
	var fields []string
	i := 0
	for len(fields) < 4 && i < len(b) {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
			i++
		}
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		fields = append(fields, string(b[i:j]))
		i = j
	}
	var w, h int
	if len(fields) != 4 || fields[0] != "P5" || fields[3] != "255" {
		return nil, fmt.Errorf("not an 8-bit P5 PGM: %q", fields)
	}
	fmt.Sscan(fields[1]+" "+fields[2], &w, &h)
	hdr := i + 1
	if len(b)-hdr < w*h {
		return nil, fmt.Errorf("PGM is short: %d bytes for %dx%d", len(b)-hdr, w, h)
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	copy(img.Pix, b[hdr:])
	return img, nil
}

// distort rotates by deg around the centre (nearest neighbour, white
// outside) and flips a share of pixels to random grey: a crooked, dirty
// scan.
func distort(src *image.Gray, deg, noise float64) *image.Gray {
	b := src.Bounds()
	dst := image.NewGray(b)
	s, c := math.Sincos(deg * math.Pi / 180)
	cx, cy := float64(b.Dx())/2, float64(b.Dy())/2
	rng := rand.New(rand.NewPCG(1, 2))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			sx, sy := int(c*dx+s*dy+cx), int(-s*dx+c*dy+cy)
			v := uint8(255)
			if sx >= 0 && sy >= 0 && sx < b.Dx() && sy < b.Dy() {
				v = src.GrayAt(sx, sy).Y
			}
			if noise > 0 && rng.Float64() < noise {
				v = uint8(rng.IntN(256))
			}
			dst.SetGray(x, y, color.Gray{Y: v})
		}
	}
	return dst
}

// imagePDF wraps one grayscale JPEG as a one-page PDF.
func imagePDF(jpg []byte, w, h, dpi int) []byte {
	return encodedImagePDF("/ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode", jpg, w, h, dpi)
}

// encodedImagePDF wraps one image, already encoded as params say (its
// filter, colour space and bits), as a one-page PDF at dpi.
func encodedImagePDF(params string, data []byte, w, h, dpi int) []byte {
	pw, ph := float64(w)*72/float64(dpi), float64(h)*72/float64(dpi)
	content := fmt.Sprintf("q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q", pw, ph)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>", pw, ph),
		fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d %s /Length %d >>\nstream\n%s\nendstream", w, h, params, len(data), data),
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

var bg = context.Background()
