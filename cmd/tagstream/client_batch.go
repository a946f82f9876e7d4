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

// exitCodesHelp is shared by every batch command's help.
const exitCodesHelp = `
Exit codes:
  0  success (with --wait: the job completed and no document failed)
  1  the command failed: bad usage, server unreachable, or an API error
     (printed as one line "tagstream: <reason>")
  2  with --wait (and batch watch): the job completed with failed
     documents, failed, or was cancelled` + jsonErrorHelp + `
(code is the API's error code, "job_unsuccessful" for exit code 2, or
"error"; field and status only for API errors).`

// readExitCodesHelp is the documents commands', which wait for no job.
const readExitCodesHelp = `
Exit codes:
  0  success
  1  the command failed: bad usage, server unreachable, or an API error
     (printed as one line "tagstream: <reason>")` + jsonErrorHelp + `
(code is the API's error code, or "error"; field and status only for
API errors).`

const jsonErrorHelp = `
With --json, a failure is one JSON object as the last line of stderr
instead of the "tagstream:" line:
  {"error": "<reason>", "code": "<code>", "field": "...", "status": 400}`

// batchOpts are the flags every batch command shares.
type batchOpts struct {
	server string
	json   bool
}

func batchCmd() *cobra.Command {
	o := &batchOpts{}
	cmd := &cobra.Command{
		Use:   "batch",
		Short: "Start, follow and control batch tagging jobs on a Tagstream server",
		Long:  "Client commands for batch jobs; log in first with `tagstream login`.\n" + exitCodesHelp,
	}
	cmd.PersistentFlags().StringVar(&o.server, "server", "", "server URL (default: TAGSTREAM_SERVER, then the stored login)")
	cmd.PersistentFlags().BoolVar(&o.json, "json", false, "print the server's JSON instead of human output")
	cmd.AddCommand(batchStartCmd(o), batchStatusCmd(o), batchListCmd(o), batchResultsCmd(o), batchEventsCmd(o), batchRetryCmd(o), batchWatchCmd(o))
	for _, action := range []string{"pause", "resume", "cancel"} {
		cmd.AddCommand(batchChangeCmd(o, action))
	}
	return cmd
}

var changeHelp = map[string]string{
	"pause":  "Pause a pending or processing job: running documents finish, no new one starts",
	"resume": "Resume a paused job",
	"cancel": "Cancel a job: no new document starts; results already produced stay",
}

func batchChangeCmd(o *batchOpts, action string) *cobra.Command {
	var reason string
	cmd := &cobra.Command{Use: action + " JOB", Short: changeHelp[action], Long: changeHelp[action] + ".\n" + exitCodesHelp, Args: cobra.ExactArgs(1)}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the job's audit trail")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := openSession(o.server)
		if err != nil {
			return err
		}
		res, err := c.Change(cmd.Context(), args[0], action, reason)
		if err != nil {
			return err
		}
		if o.json {
			return printJSON(cmd.OutOrStdout(), res.Raw)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s (status: %s)\n", res.Message, res.Status)
		return nil
	}
	return cmd
}

func batchStatusCmd(o *batchOpts) *cobra.Command {
	cmd := &cobra.Command{Use: "status JOB", Short: "Show a job's status and counts", Args: cobra.ExactArgs(1)}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := openSession(o.server)
		if err != nil {
			return err
		}
		j, err := c.Status(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if o.json {
			return printJSON(cmd.OutOrStdout(), j.Raw)
		}
		var eta *client.ETA
		if !j.Terminal() && j.Status != "paused" {
			// A server without the endpoint shows no ETA; that is all.
			if e, err := c.ETA(cmd.Context(), j.JobID); err == nil {
				eta = &e
			}
		}
		printStatus(cmd.OutOrStdout(), j, eta)
		return nil
	}
	return cmd
}

// etaLine is the ETA as the console shows it: "-" until the server has a
// rate (two documents finished in its recent window).
func etaLine(e client.ETA) string {
	if e.RatePerMinute == nil || e.ETASeconds == nil {
		return "- (no rate yet)"
	}
	left := (time.Duration(*e.ETASeconds) * time.Second).String()
	return fmt.Sprintf("%s (%.1f documents/min over the last %d min)", left, *e.RatePerMinute, max(1, e.WindowSeconds/60))
}

func printStatus(w io.Writer, j client.Job, eta *client.ETA) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Job:\t%s\n", j.JobID)
	if j.Name != "" {
		fmt.Fprintf(tw, "Name:\t%s\n", j.Name)
	}
	if j.OwnerEmail != "" {
		fmt.Fprintf(tw, "Owner:\t%s\n", j.OwnerEmail)
	}
	fmt.Fprintf(tw, "Status:\t%s\n", j.Status)
	fmt.Fprintf(tw, "Progress:\t%.0f%% (%d tagged, %d failed, %d cancelled of %d)\n",
		j.Progress*100, j.ProcessedCount, j.FailedCount, j.CancelledCount, j.TotalDocuments)
	if j.ModelName != "" {
		fmt.Fprintf(tw, "Model:\t%s\n", j.ModelName)
	}
	if j.Attempt > 1 {
		fmt.Fprintf(tw, "Attempt:\t%d\n", j.Attempt)
	}
	for _, t := range []struct {
		name string
		at   *time.Time
	}{{"Created", j.CreatedAt}, {"Started", j.StartedAt}, {"Finished", j.FinishedAt}} {
		if t.at != nil && !t.at.IsZero() {
			fmt.Fprintf(tw, "%s:\t%s\n", t.name, t.at.Local().Format(time.DateTime))
		}
	}
	if j.Reason != "" {
		fmt.Fprintf(tw, "Reason:\t%s\n", j.Reason)
	}
	if j.Erased {
		at := ""
		if j.ErasedAt != nil {
			at = j.ErasedAt.Local().Format(time.DateTime) + " "
		}
		fmt.Fprintf(tw, "Erased:\t%sdocument data erased (%s)\n", at, j.EraseReason)
	}
	if j.LegalHold {
		fmt.Fprintf(tw, "Legal hold:\ton (%s)\n", j.HoldReason)
	}
	if u := j.Usage; u != nil {
		cost := fmt.Sprintf("$%.4f", u.CostUSD)
		if u.Unpriced > 0 {
			cost += fmt.Sprintf(" (+%d documents of a model without a price)", u.Unpriced)
		}
		fmt.Fprintf(tw, "Model calls:\t%d (%d cache hits)\n", u.ModelCalls, u.Cached)
		fmt.Fprintf(tw, "Tokens:\t%d prompt, %d completion\n", u.PromptTokens, u.CompletionTokens)
		fmt.Fprintf(tw, "Cost:\t%s\n", cost)
	}
	if eta != nil {
		fmt.Fprintf(tw, "ETA:\t%s\n", etaLine(*eta))
	}
	tw.Flush()
}

func batchListCmd(o *batchOpts) *cobra.Command {
	var active bool
	var status string
	var limit int
	var scope client.Scope
	cmd := &cobra.Command{
		Use:   "list [JOB]",
		Short: "List the job history (newest first), only active jobs with --active, or one job",
		Args:  cobra.MaximumNArgs(1),
	}
	cmd.Flags().BoolVar(&active, "active", false, "only pending, processing and paused jobs")
	cmd.Flags().StringVar(&status, "status", "", "only jobs with this status (history)")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many jobs (history)")
	cmd.Flags().StringVar(&scope.OrgID, "org", "", "the jobs of this organisation (org_id) that your role there lets you read")
	cmd.Flags().BoolVar(&scope.All, "all", false, "every job you may read: your own, your organisations' where your role reads them all, and (auditors and admins) all outside organisations")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := openSession(o.server)
		if err != nil {
			return err
		}
		var l client.JobList
		switch {
		case len(args) == 1:
			j, err := c.Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			l = client.JobList{Jobs: []client.Job{j}, Raw: j.Raw}
		case active:
			l, err = c.Active(cmd.Context(), scope)
		default:
			l, err = c.Jobs(cmd.Context(), status, "", limit, scope)
			// Servers without the history endpoint still know the active jobs.
			// (An organisation's 404 is not that: it is the answer.)
			if client.StatusOf(err) == 404 && status == "" && scope.OrgID == "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "tagstream: this server has no job history; showing active jobs")
				l, err = c.Active(cmd.Context(), scope)
			}
		}
		if err != nil {
			return err
		}
		if o.json {
			return printJSON(cmd.OutOrStdout(), l.Raw)
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "JOB\tSTATUS\tPROGRESS\tDOCUMENTS\tFAILED\tCREATED")
		for _, j := range l.Jobs {
			created := ""
			if j.CreatedAt != nil {
				created = j.CreatedAt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f%%\t%d\t%d\t%s\n", j.JobID, j.Status, j.Progress*100, j.TotalDocuments, j.FailedCount, created)
		}
		return tw.Flush()
	}
	return cmd
}

func batchResultsCmd(o *batchOpts) *cobra.Command {
	var asCSV bool
	var out string
	cmd := &cobra.Command{
		Use:   "results JOB [--csv] [--out FILE]",
		Short: "Show a job's per-document results (all pages), as a table, JSON or CSV",
		Args:  cobra.ExactArgs(1),
	}
	cmd.Flags().BoolVar(&asCSV, "csv", false, "the server's CSV export (your columns, then tags and metadata)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to FILE instead of stdout")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := openSession(o.server)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if asCSV {
			raw, err := c.ResultsCSV(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			buf.Write(raw)
		} else {
			var rows []map[string]any
			var first client.ResultsPage
			for cursor := ""; ; {
				p, err := c.Results(cmd.Context(), args[0], cursor, 1000)
				if err != nil {
					return err
				}
				if cursor == "" {
					first = p
				}
				rows = append(rows, p.Results...)
				if p.NextCursor == nil || *p.NextCursor == "" {
					break
				}
				cursor = *p.NextCursor
			}
			if o.json {
				raw := first.Raw
				if len(rows) != len(first.Results) { // several pages: one document for machines
					raw, _ = json.Marshal(map[string]any{"job_id": first.JobID, "total": first.Total, "results": rows, "next_cursor": nil})
				}
				if err := printJSON(&buf, raw); err != nil {
					return err
				}
			} else {
				printResults(&buf, rows)
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

func printResults(w io.Writer, rows []map[string]any) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tSTATUS\tDOCUMENT\tTAGS\tERROR")
	for _, r := range rows {
		doc := str(r["title"])
		if doc == "" {
			doc = str(r["file_path"])
		}
		var tags []string
		if ts, ok := r["tags"].([]any); ok {
			for _, t := range ts {
				tags = append(tags, str(t))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", str(r["row_id"]), str(r["status"]), clip(doc, 50),
			clip(strings.Join(tags, ", "), 80), clip(str(r["error"]), 80))
	}
	tw.Flush()
}

// str renders a JSON value for a table cell; null is empty.
func str(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		return fmt.Sprint(t)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// clip keeps table rows on one line: tabs and newlines would break columns.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func batchEventsCmd(o *batchOpts) *cobra.Command {
	cmd := &cobra.Command{Use: "events JOB", Short: "Show a job's audit trail: every transition, who caused it and why", Args: cobra.ExactArgs(1)}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := openSession(o.server)
		if err != nil {
			return err
		}
		var evs []client.Event
		var first client.EventsPage
		for cursor := ""; ; {
			p, err := c.Events(cmd.Context(), args[0], cursor, 0)
			if err != nil {
				return err
			}
			if cursor == "" {
				first = p
			}
			evs = append(evs, p.Events...)
			if p.NextCursor == nil || *p.NextCursor == "" {
				break
			}
			cursor = *p.NextCursor
		}
		if o.json {
			raw := first.Raw
			if len(evs) != len(first.Events) {
				raw, _ = json.Marshal(map[string]any{"job_id": first.JobID, "events": evs, "next_cursor": nil})
			}
			return printJSON(cmd.OutOrStdout(), raw)
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tTIME\tTYPE\tACTOR\tREASON")
		for _, e := range evs {
			actor := e.Actor.Email
			if actor == "" {
				actor = strings.Trim(e.Actor.Kind+":"+e.Actor.ID, ":")
			}
			var data struct {
				Reason string `json:"reason"`
			}
			_ = json.Unmarshal(e.Data, &data)
			when := e.Time
			if t, err := time.Parse(time.RFC3339Nano, e.Time); err == nil {
				when = t.Local().Format("2006-01-02 15:04:05.000")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Seq, when, e.Type, actor, clip(data.Reason, 80))
		}
		return tw.Flush()
	}
	return cmd
}

// batchWatchCmd follows a job someone started (or a --wait that lost the
// server) until it ends, with the exit codes of --wait.
func batchWatchCmd(o *batchOpts) *cobra.Command {
	var w waitOpts
	cmd := &cobra.Command{
		Use:   "watch JOB",
		Short: "Follow a job with a progress bar until it finishes",
		Long: "Follow a job (live over a WebSocket, or by polling with --no-websocket) with a\n" +
			"progress bar on stderr until it finishes, then print its final status.\n" + exitCodesHelp,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().BoolVar(&w.noWebSocket, "no-websocket", false, "poll the status every second instead of using the live WebSocket")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := openSession(o.server)
		if err != nil {
			return err
		}
		return waitForJob(cmd, c, o, w, args[0])
	}
	return cmd
}
