package fetch

// TypeUpload names a document whose bytes came with the request that
// started its job (POST /api/single/process); the pipeline reads them
// from its upload store, never through this package's fetchers.
const TypeUpload = "upload"

// CheckPDF applies the fetchers' magic-byte rule to bytes received some
// other way (an upload), with the same readable reason when it fails.
func CheckPDF(data []byte) error {
	if !hasPDFMagic(data) {
		return notPDF(data, "")
	}
	return nil
}
