package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tagstream/tagstream/internal/client"
)

// waitOpts are the flags of commands that can wait for their job.
type waitOpts struct {
	wait        bool
	noWebSocket bool
}

func (w *waitOpts) bind(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&w.wait, "wait", false, "follow the job with a progress bar on stderr until it finishes; the exit code tells the outcome")
	cmd.Flags().BoolVar(&w.noWebSocket, "no-websocket", false, "with --wait, poll the status every second instead of using the live WebSocket")
}

func batchStartCmd(o *batchOpts) *cobra.Command {
	var (
		csvPath, model, apiKey, jobID, excludeFile, name, org string
		maps, exclude                                         []string
		pages, tags                                           int
		apiKeyStdin                                           bool
		w                                                     waitOpts
	)
	cmd := &cobra.Command{
		Use:   "start --csv FILE [--map 'COLUMN=field' ...] [flags]",
		Short: "Start a batch job from a CSV of documents",
		Long: `Start a batch job from a CSV file or an .xlsx spreadsheet (its first sheet;
told apart by the extension or the file's first bytes). The first row names the columns; every
further row is one document, sent as an object of its columns (columns that
are not system fields come back with the results).

The separator (',', ';' or tab) is detected from the header line, and a
UTF-8 byte-order mark is ignored, as in the web console.

System fields: file_path (required), title, description, file_source_type.
Columns are mapped to them by the console's rules (GET
/api/batch/column-rules): "Document URL", url, pdf_url, link, path, ... ->
file_path; title, name, filename, ... -> title; description, summary,
notes, ... -> description. --map 'COLUMN=field' (repeatable) maps a column
yourself; fields it leaves out are still auto-mapped. Messages about a row
name its line in the file (the header is line 1).

With --wait the command follows the job (live over a WebSocket, or by
polling the status every second when that is unavailable) and draws a
progress bar on stderr.
` + exitCodesHelp,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&csvPath, "csv", "", "CSV or .xlsx file of documents (required; of a spreadsheet, the first sheet is read)")
	f.StringArrayVar(&maps, "map", nil, "map a CSV column to a system field, 'COLUMN=field' (repeatable)")
	f.StringVar(&model, "model", "", "model name (server default: openai/gpt-4o-mini; builtin/keywords needs no key)")
	f.IntVar(&pages, "pages", 0, "pages to read per document, 1..10 (server default 3)")
	f.IntVar(&tags, "tags", 0, "tags per document, 3..15 (server default 8)")
	f.StringSliceVar(&exclude, "exclude", nil, "comma-separated words never to use as tags")
	f.StringVar(&excludeFile, "exclude-file", "", "file (.txt) of terms never to use as tags: one per line or comma separated, # starts a comment")
	f.BoolVar(&apiKeyStdin, "api-key-stdin", false, "read the model API key from stdin (it is never stored in the job's events)")
	f.StringVar(&name, "name", "", "the job's name, shown in job lists and status (default: the file's name without its extension)")
	f.StringVar(&org, "org", "", "start the job in this organisation (its org_id; see GET /api/orgs): its operators, auditors and admins see it too")
	f.StringVar(&jobID, "job-id", "", "your own job id (scoped to you; the server answers with the job id to use); starting again with the same id and request is a no-op")
	w.bind(cmd)
	_ = cmd.MarkFlagRequired("csv")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		header, docs, lines, err := readTable(csvPath)
		if err != nil {
			return err
		}
		mapping, guessed, err := columnMapping(header, maps)
		if err != nil {
			return err
		}
		if len(guessed) > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "tagstream: mapped columns %s (override with --map)\n", strings.Join(guessed, ", "))
		}
		if excludeFile != "" {
			words, err := readWords(excludeFile)
			if err != nil {
				return fmt.Errorf("--exclude-file: %w", err)
			}
			exclude = append(exclude, words...)
		}
		if apiKeyStdin {
			if apiKey, err = readLine(cmd.InOrStdin()); err != nil {
				return fmt.Errorf("--api-key-stdin: %w", err)
			}
		}
		if !f.Changed("name") {
			name = defaultJobName(csvPath)
		}
		req := client.StartRequest{Documents: docs, ColumnMapping: mapping, JobID: jobID, Columns: header, Name: name, OrgID: org,
			Config: client.StartConfig{APIKey: apiKey, ModelName: model, ExclusionWords: exclude}}
		// Only flags the user set are sent, so the server's defaults and
		// range checks (which name the field) stay the single authority.
		if f.Changed("pages") {
			req.Config.NumPages = &pages
		}
		if f.Changed("tags") {
			req.Config.NumTags = &tags
		}
		c, err := openSession(o.server)
		if err != nil {
			return err
		}
		res, err := c.Start(cmd.Context(), req)
		if err != nil {
			return atFileLine(err, csvPath, lines, mapping)
		}
		if !w.wait {
			if o.json {
				return printJSON(cmd.OutOrStdout(), res.Raw)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: job %s\n", res.Message, res.JobID)
			return nil
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: job %s\n", res.Message, res.JobID)
		return waitForJob(cmd, c, o, w, res.JobID)
	}
	return cmd
}

// readLine reads one non-empty line (a secret piped in on stdin).
func readLine(in io.Reader) (string, error) {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	if line = strings.TrimSpace(line); line == "" {
		return "", fmt.Errorf("stdin is empty")
	}
	return line, nil
}

// waitForJob follows a job to its end and turns the outcome into the exit
// code: a nil error only when it completed without failed documents.
func waitForJob(cmd *cobra.Command, c *client.Client, o *batchOpts, w waitOpts, jobID string) error {
	bar := newProgressBar(cmd.ErrOrStderr())
	j, err := c.Follow(cmd.Context(), jobID, client.FollowOptions{
		NoWebSocket: w.noWebSocket,
		OnProgress:  bar.update,
		OnFallback: func(reason error) {
			if bar.tty {
				fmt.Fprintln(bar.w)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "tagstream: %s; polling the status every second\n", oneLine(reason))
		},
	})
	if err != nil {
		return err
	}
	// The final status, not the last live message, is the authority.
	bar.finish(client.Progress{Status: j.Status, Total: j.TotalDocuments, Done: j.ProcessedCount, Failed: j.FailedCount,
		Cancelled: j.CancelledCount})
	if o.json {
		if err := printJSON(cmd.OutOrStdout(), j.Raw); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(cmd.OutOrStdout(), "Job %s %s: %d tagged, %d failed, %d cancelled, %d left of %d\n",
			j.JobID, j.Status, j.ProcessedCount, j.FailedCount, j.CancelledCount,
			max(0, j.TotalDocuments-j.ProcessedCount-j.FailedCount-j.CancelledCount), j.TotalDocuments)
	}
	switch {
	case j.Status == "completed" && j.FailedCount == 0:
		return nil
	case j.Status == "completed":
		return &exitCodeError{2, fmt.Errorf("job %s completed with %d of %d documents failed; see `tagstream batch results %s`", j.JobID, j.FailedCount, j.TotalDocuments, j.JobID)}
	}
	msg := fmt.Sprintf("job %s %s", j.JobID, j.Status)
	if j.Reason != "" {
		msg += ": " + j.Reason
	}
	return &exitCodeError{2, errors.New(msg)}
}

func batchRetryCmd(o *batchOpts) *cobra.Command {
	var (
		req         client.RetryRequest
		apiKeyStdin bool
		w           waitOpts
	)
	cmd := &cobra.Command{
		Use:   "retry JOB",
		Short: "Re-run the failed documents of a finished job under the same id",
		Long:  "Re-run the failed (and with --include-cancelled, cancelled) documents of a finished job; earlier attempts stay in the audit trail.\n" + exitCodesHelp,
		Args:  cobra.ExactArgs(1),
	}
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why, recorded in the job's audit trail")
	cmd.Flags().StringVar(&req.ModelName, "model", "", "model for the retry (default: the job's model)")
	cmd.Flags().BoolVar(&req.IncludeCancelled, "include-cancelled", false, "also re-run cancelled documents")
	cmd.Flags().BoolVar(&apiKeyStdin, "api-key-stdin", false, "read the model API key from stdin")
	w.bind(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if apiKeyStdin {
			key, err := readLine(cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("--api-key-stdin: %w", err)
			}
			req.APIKey = key
		}
		c, err := openSession(o.server)
		if err != nil {
			return err
		}
		res, err := c.Retry(cmd.Context(), args[0], req)
		if err != nil {
			return err
		}
		if w.wait {
			fmt.Fprintln(cmd.ErrOrStderr(), res.Message)
			return waitForJob(cmd, c, o, w, args[0])
		}
		if o.json {
			return printJSON(cmd.OutOrStdout(), res.Raw)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s (status: %s)\n", res.Message, res.Status)
		return nil
	}
	return cmd
}

// defaultJobName names a job after its file ("reports-2024.csv" ->
// "reports-2024"), within the server's 200 characters.
func defaultJobName(file string) string {
	n := []rune(strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)))
	if len(n) > 200 {
		n = n[:200]
	}
	return strings.TrimSpace(string(n))
}
