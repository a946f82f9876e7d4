package fetch

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

const (
	pdfMagic = "%PDF-"
	// maxJunk is how far into the file the header may start: PDF readers
	// accept up to 1024 bytes of leading garbage, and so do we.
	maxJunk  = 1024
	sniffLen = maxJunk + 5 // len(pdfMagic), untyped so it mixes with int64
)

func hasPDFMagic(b []byte) bool {
	return bytes.Contains(b[:min(len(b), sniffLen)], []byte(pdfMagic))
}

func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(ct))
	}
	return mt
}

// notPDF explains what the content looked like, because "not a PDF" alone
// sends users looking in the wrong place: the usual culprit is an HTML
// login or error page served where the document used to be.
func notPDF(head []byte, contentType string) error {
	what := describe(head)
	if contentType != "" {
		what += fmt.Sprintf("; the server said Content-Type %s", mediaType(contentType))
	}
	return fail(CodeNotPDF, nil, "not a PDF: the content does not start with %%PDF- (%s)", what)
}

func describe(head []byte) string {
	if len(head) == 0 {
		return "the document is empty"
	}
	ct := mediaType(http.DetectContentType(head))
	var what string
	switch {
	case ct == "text/html":
		what = "it looks like an HTML page"
	case ct == "text/xml":
		what = "it looks like XML"
	case ct == "text/plain":
		what = "it looks like plain text"
	case ct == "application/zip":
		what = "it looks like a ZIP archive (perhaps a Word or Excel file)"
	case strings.HasPrefix(ct, "image/"):
		return "it looks like an image (" + ct + ")"
	case ct == "application/octet-stream":
		return "it looks like unrecognised binary data"
	default:
		return "it looks like " + ct
	}
	if s := snippet(head); s != "" {
		what += fmt.Sprintf(" starting %q", s)
	}
	return what
}

// snippet returns the first few printable characters, enough for a user to
// recognise "404 Not Found" or a login page.
func snippet(b []byte) string {
	var sb strings.Builder
	space := false
	for _, r := range string(b[:min(len(b), 200)]) {
		if sb.Len() >= 60 {
			sb.WriteString("...")
			break
		}
		switch {
		case r == ' ' || r == '\n' || r == '\r' || r == '\t':
			space = sb.Len() > 0
		case r >= 0x20 && r < 0x7f:
			if space {
				sb.WriteByte(' ')
				space = false
			}
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
