package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/tagstream/tagstream/internal/ocr"
	"github.com/tagstream/tagstream/internal/pdftext"
)

// extractCmd prints what the model would see for a PDF: the text layer,
// or OCR for pages without a usable one.
func extractCmd() *cobra.Command {
	var pages int
	var meta bool
	var mode, langs string
	cmd := &cobra.Command{
		Use:   "extract [--pages N] [--ocr auto|off|force] [--ocr-languages L] FILE.pdf",
		Short: "Print the text Tagstream extracts from the first pages of a PDF",
		Long: "Print the text Tagstream extracts from the first pages of a PDF. Pages without a usable\n" +
			"text layer (scans, too little text, legacy Hindi fonts) are OCR'd with Tesseract unless\n" +
			"--ocr off. The first line on stderr gives extraction_method and ocr_confidence.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if pages < 1 || pages > 10 {
				return fmt.Errorf("--pages must be between 1 and 10")
			}
			m, err := ocr.ParseMode(mode)
			if err != nil {
				return fmt.Errorf("--ocr %w", err)
			}
			if langs != "" {
				if err := ocr.CheckLanguages(langs); err != nil {
					return fmt.Errorf("--ocr-languages %w", err)
				}
			}
			start := time.Now()
			data, err := readPDF(args[0])
			if err != nil {
				return err
			}
			res, err := ocr.Extract(c.Context(), data, pdftext.Options{MaxPages: pages}, ocr.Options{Mode: m, Languages: langs})
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			fmt.Fprintf(c.ErrOrStderr(), "extraction_method %s", res.Method)
			if res.PagesOCR > 0 {
				fmt.Fprintf(c.ErrOrStderr(), ", ocr_confidence %.1f (%d pages OCR'd)", res.Confidence, res.PagesOCR)
			}
			fmt.Fprintln(c.ErrOrStderr())
			if res.OCRErr != nil {
				fmt.Fprintf(c.ErrOrStderr(), "%v; the text layer was kept\n", res.OCRErr)
			}
			if meta {
				fmt.Fprintf(c.ErrOrStderr(), "pages read %d of %d, %d characters, %s\n",
					res.PagesRead, res.PageCount, len([]rune(res.Text)), time.Since(start).Round(time.Millisecond))
			}
			_, err = fmt.Fprintln(c.OutOrStdout(), res.Text)
			return err
		},
	}
	cmd.Flags().IntVar(&pages, "pages", 3, "how many pages to read from the start (1-10)")
	cmd.Flags().BoolVar(&meta, "meta", false, "also print page counts and timing to stderr")
	cmd.Flags().StringVar(&mode, "ocr", "auto", "OCR pages without a usable text layer (auto), every page (force) or none (off)")
	cmd.Flags().StringVar(&langs, "ocr-languages", "", "Tesseract languages, such as eng+hin (default TAGSTREAM_OCR_LANGUAGES or eng+hin)")
	return cmd
}

// readPDF reads at most the extraction size limit, refusing larger files
// before reading them.
func readPDF(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > pdftext.DefaultMaxBytes {
		return nil, fmt.Errorf("%s: %w: %d bytes, limit is %d", path, pdftext.ErrTooLarge, st.Size(), pdftext.DefaultMaxBytes)
	}
	return os.ReadFile(path)
}
