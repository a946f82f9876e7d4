package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/tagstream/tagstream/internal/pdftext"
)

// extractCmd prints what the model would see for a PDF.
func extractCmd() *cobra.Command {
	var pages int
	var meta bool
	cmd := &cobra.Command{
		Use:   "extract [--pages N] FILE.pdf",
		Short: "Print the text Tagstream extracts from the first pages of a PDF",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if pages < 1 || pages > 10 {
				return fmt.Errorf("--pages must be between 1 and 10")
			}
			start := time.Now()
			res, err := pdftext.ExtractFile(c.Context(), args[0], pdftext.Options{MaxPages: pages})
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if meta {
				fmt.Fprintf(c.ErrOrStderr(), "pages read %d of %d, method %s, %d characters, %s\n",
					res.PagesRead, res.PageCount, res.Method, len([]rune(res.Text)), time.Since(start).Round(time.Millisecond))
			}
			_, err = fmt.Fprintln(c.OutOrStdout(), res.Text)
			return err
		},
	}
	cmd.Flags().IntVar(&pages, "pages", 3, "how many pages to read from the start (1-10)")
	cmd.Flags().BoolVar(&meta, "meta", false, "also print page counts and timing to stderr")
	return cmd
}
