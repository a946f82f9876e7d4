package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/tagstream/tagstream/internal/client"
)

func documentsCmd() *cobra.Command {
	o := &batchOpts{}
	cmd := &cobra.Command{
		Use:   "documents",
		Short: "Search your tagged documents and see history statistics on a Tagstream server",
		Long:  "Client commands over every document you have tagged; log in first with `tagstream login`.\n" + readExitCodesHelp,
	}
	cmd.PersistentFlags().StringVar(&o.server, "server", "", "server URL (default: TAGSTREAM_SERVER, then the stored login)")
	cmd.PersistentFlags().BoolVar(&o.json, "json", false, "print the server's JSON instead of human output")
	cmd.AddCommand(documentsSearchCmd(o), documentsStatsCmd(o))
	return cmd
}

// searchPage is how many documents one request asks for.
const searchPage = 500

func documentsSearchCmd(o *batchOpts) *cobra.Command {
	var q client.DocumentQuery
	var asCSV bool
	var out string
	limit := 50
	cmd := &cobra.Command{
		Use:   "search [--q WORDS] [--tag TAG] [--job JOB] [--status S] [--since T] [--until T] [--limit N] [--json|--csv]",
		Short: "Find documents by words of their titles, tags, descriptions and extra columns, newest first",
		Long: `Find your documents by words of their titles, tags, descriptions and extra
columns (every word must occur; end a word with * for a prefix), by tag
(exact, any case), job, status (pending, processing, success, failed,
cancelled; several comma-separated) and when their job started (--since,
--until: a date 2026-12-01 or an RFC 3339 time; --until's date is included).
--all searches every job you may read, as "batch list --all" lists them:
your own, your organisations' where your role reads every job, and for
auditors and admins every job outside organisations; --org ORG searches an
organisation's (all of them for its operators, auditors and admins, a
member's own for a member).
` + readExitCodesHelp,
		Args: cobra.NoArgs,
		Example: `  tagstream documents search --q "railway circular"
  tagstream documents search --tag transport --since 2026-11-01 --csv -o transport.csv
  tagstream documents search --q परिपत्र --status success --json`,
	}
	f := cmd.Flags()
	f.StringVar(&q.Q, "q", "", "words to find")
	f.StringVar(&q.Tag, "tag", "", "only documents with this tag")
	f.StringVar(&q.JobID, "job", "", "only this job's documents")
	f.StringVar(&q.Status, "status", "", "only documents in these statuses (comma-separated)")
	f.StringVar(&q.Since, "since", "", "only jobs started at or after (date or RFC 3339 time)")
	f.StringVar(&q.Until, "until", "", "only jobs started before (date: to its end, or RFC 3339 time)")
	f.IntVar(&limit, "limit", limit, "at most this many documents (0: all; --csv exports all unless given)")
	f.BoolVar(&q.All, "all", false, "the documents of every job you may read: your own, your organisations' where your role reads them all, and (auditors and admins) all outside organisations")
	f.StringVar(&q.OrgID, "org", "", "an organisation's documents (org_id), by your role there")
	f.BoolVar(&asCSV, "csv", false, "the server's CSV export of the search")
	f.StringVarP(&out, "out", "o", "", "write to FILE instead of stdout")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if asCSV && o.json {
			return fmt.Errorf("--csv and --json exclude each other")
		}
		if limit < 0 {
			return fmt.Errorf("--limit must be 0 or more")
		}
		c, err := openSession(o.server)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if asCSV {
			// An export is of every match unless a limit is asked for;
			// one that stops short says so, as the table does.
			if !cmd.Flags().Changed("limit") {
				limit = 0
			}
			more, err := searchCSV(cmd, c, q, limit, &buf)
			if err != nil {
				return err
			}
			if more {
				fmt.Fprintf(cmd.ErrOrStderr(), "(more documents match than --limit %d: raise it, or use --limit 0 for all)\n", limit)
			}
		} else {
			docs, next, err := searchAll(cmd, c, q, limit)
			if err != nil {
				return err
			}
			if o.json {
				raw, _ := json.Marshal(map[string]any{"documents": rawDocs(docs), "next_cursor": next})
				if err := printJSON(&buf, raw); err != nil {
					return err
				}
			} else {
				printDocuments(&buf, docs, next != nil)
			}
		}
		if out != "" {
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Wrote %s\n", out)
			return nil
		}
		_, err = cmd.OutOrStdout().Write(buf.Bytes())
		return err
	}
	return cmd
}

// searchAll follows the cursor until limit documents (0: all) and returns
// the cursor that would continue.
func searchAll(cmd *cobra.Command, c *client.Client, q client.DocumentQuery, limit int) ([]client.Document, *string, error) {
	var docs []client.Document
	for {
		q.Limit = searchPage
		if limit > 0 {
			q.Limit = min(searchPage, limit-len(docs))
		}
		p, err := c.Documents(cmd.Context(), q)
		if err != nil {
			return nil, nil, err
		}
		page, err := p.Docs()
		if err != nil {
			return nil, nil, fmt.Errorf("unexpected answer: %w", err)
		}
		docs = append(docs, page...)
		if p.NextCursor == nil || *p.NextCursor == "" {
			return docs, nil, nil
		}
		if limit > 0 && len(docs) >= limit {
			return docs, p.NextCursor, nil
		}
		q.Cursor = *p.NextCursor
	}
}

// searchCSV writes the export, continuing from the cursor each part ends
// with (the server streams at most TAGSTREAM_EXPORT_ROWS rows per
// request) until limit rows (0: all); the header comes once. more: the
// limit left matches out.
func searchCSV(cmd *cobra.Command, c *client.Client, q client.DocumentQuery, limit int, w *bytes.Buffer) (more bool, err error) {
	rows := 0
	for part := 0; ; part++ {
		q.Limit = 0
		if limit > 0 {
			q.Limit = limit - rows
		}
		p, err := c.DocumentsCSV(cmd.Context(), q)
		if err != nil {
			return false, err
		}
		raw := p.Data
		if part > 0 {
			if i := bytes.IndexByte(raw, '\n'); i >= 0 {
				raw = raw[i+1:]
			}
		}
		w.Write(raw)
		if p.Next == "" {
			return false, nil
		}
		// A part that names a cursor stopped at its row bound.
		rows += p.MaxRows
		if p.MaxRows < 1 || (limit > 0 && rows >= limit) {
			return limit > 0, nil
		}
		q.Cursor = p.Next
	}
}

func rawDocs(docs []client.Document) []json.RawMessage {
	out := make([]json.RawMessage, len(docs))
	for i, d := range docs {
		out[i] = d.Raw
	}
	return out
}

func printDocuments(w io.Writer, docs []client.Document, more bool) {
	if len(docs) == 0 {
		fmt.Fprintln(w, "No documents found.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tROW\tSTATUS\tDOCUMENT\tTAGS\tSTARTED")
	for _, d := range docs {
		doc := d.Title
		if doc == "" {
			doc = d.FilePath
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", d.JobID, d.RowID, d.Status, clip(doc, 50),
			clip(strings.Join(d.Tags, ", "), 60), d.CreatedAt.Local().Format(time.DateTime))
	}
	tw.Flush()
	if more {
		fmt.Fprintln(w, "(more documents match: raise --limit, or use --limit 0 for all)")
	}
}

func documentsStatsCmd(o *batchOpts) *cobra.Command {
	var scope client.Scope
	cmd := &cobra.Command{Use: "stats [--all|--org ORG]", Short: "History statistics: jobs and documents, jobs by status, the newest jobs", Args: cobra.NoArgs}
	cmd.Flags().BoolVar(&scope.All, "all", false, "every job you may read: your own, your organisations' where your role reads them all, and (auditors and admins) all outside organisations")
	cmd.Flags().StringVar(&scope.OrgID, "org", "", "an organisation's jobs (org_id), by your role there")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := openSession(o.server)
		if err != nil {
			return err
		}
		raw, err := c.HistoryStats(cmd.Context(), scope)
		if err != nil {
			return err
		}
		if o.json {
			return printJSON(cmd.OutOrStdout(), raw)
		}
		var st struct {
			TotalJobs      int            `json:"total_jobs"`
			TotalDocuments int            `json:"total_documents"`
			JobsByStatus   map[string]int `json:"jobs_by_status"`
			RecentJobs     []client.Job   `json:"recent_jobs"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("unexpected answer: %w", err)
		}
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "Jobs: %d   Documents: %d\n", st.TotalJobs, st.TotalDocuments)
		for _, s := range []string{"pending", "processing", "paused", "completed", "failed", "cancelled"} {
			if n := st.JobsByStatus[s]; n > 0 {
				fmt.Fprintf(w, "  %-11s %d\n", s, n)
			}
		}
		if len(st.RecentJobs) > 0 {
			fmt.Fprintln(w, "Newest jobs:")
			printJobs(w, st.RecentJobs)
		}
		return nil
	}
	return cmd
}

func printJobs(w io.Writer, jobs []client.Job) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATUS\tDOCUMENTS\tTAGGED\tFAILED\tCANCELLED\tCREATED")
	for _, j := range jobs {
		created := ""
		if j.CreatedAt != nil {
			created = j.CreatedAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", j.JobID, j.Status, j.TotalDocuments, j.ProcessedCount, j.FailedCount,
			j.CancelledCount, created)
	}
	tw.Flush()
}
