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
// login or error page served where the document used to be. It names the
// detected type only and never quotes the content: the reason is stored in
// the permanent log, and the bytes may be an internal page or a .env file.
func notPDF(head []byte, contentType string) error {
	what := describe(head)
	if contentType != "" {
		what += fmt.Sprintf("; the server said Content-Type %s", safeMediaType(contentType))
	}
	return fail(CodeNotPDF, nil, "not a PDF: the content does not start with %%PDF- (%s)", what)
}

// describe names the type of head, e.g. "it looks like an HTML document".
func describe(head []byte) string {
	if len(head) == 0 {
		return "the document is empty"
	}
	ct := mediaType(http.DetectContentType(head))
	switch {
	case ct == "text/html":
		return "it looks like an HTML document"
	case ct == "text/xml":
		return "it looks like an XML document"
	case ct == "text/plain":
		if looksLikeJSON(head) {
			return "it looks like a JSON document"
		}
		return "it looks like plain text"
	case ct == "application/zip":
		return "it looks like a ZIP archive (perhaps a Word or Excel file)"
	case strings.HasPrefix(ct, "image/"):
		return "it looks like an image (" + ct + ")"
	case ct == "application/octet-stream":
		return "it looks like unrecognised binary data"
	default:
		return "it looks like " + ct
	}
}

// looksLikeJSON is a shape check only: the first non-space byte opens an
// object or array. The head is usually cut, so it is not parsed.
func looksLikeJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n\ufeff")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// safeMediaType keeps a server-sent Content-Type to a short token of
// media-type characters, since the header is as untrusted as the body.
func safeMediaType(ct string) string {
	mt := mediaType(ct)
	if len(mt) > 100 {
		return "(unrecognised)"
	}
	for _, r := range mt {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("/+-.", r)) {
			return "(unrecognised)"
		}
	}
	return mt
}
