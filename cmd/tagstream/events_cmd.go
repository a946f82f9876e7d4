package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/tagstream/tagstream/events"
)

// eventsCmd groups the operator commands that read the log itself. They
// run next to the data (server stopped) or against TAGSTREAM_NATS_URL
// (e.g. a serve started with TAGSTREAM_NATS_LISTEN).
func eventsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "events", Short: "Read the event log: tail, export with a hash chain, verify an export"}
	cmd.AddCommand(eventsTailCmd(), eventsExportCmd(), eventsVerifyCmd())
	return cmd
}

func jobFilter(job string) (string, error) {
	if job == "" {
		// The whole log: jobs and organisations (their membership
		// changes belong to the audit trail too).
		return ">", nil
	}
	if !events.ValidJobID(job) {
		return "", fmt.Errorf("--job %q is not a valid job id", job)
	}
	return events.JobSubjects(job), nil
}

func eventsTailCmd() *cobra.Command {
	var cfg config
	var job string
	var from uint64
	var all bool
	cmd := &cobra.Command{
		Use:   "tail [--job ID] [--all | --from-seq N]",
		Short: "Print events as JSON lines as they are appended (Ctrl-C to stop)",
		Args:  cobra.NoArgs,
	}
	bindErr := cfg.bindOnly(cmd.Flags(), operatorSettings...)
	cmd.Flags().StringVar(&job, "job", "", "only this job's events")
	cmd.Flags().Uint64Var(&from, "from-seq", 0, "start at this sequence")
	cmd.Flags().BoolVar(&all, "all", false, "start at the beginning of the log")
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if bindErr != nil {
			return bindErr
		}
		filter, err := jobFilter(job)
		if err != nil {
			return err
		}
		a, err := openPlainLog(c, cfg, false)
		if err != nil {
			return err
		}
		defer a.close()
		if !all && from == 0 {
			last, err := a.store.LastSeq(c.Context())
			if err != nil {
				return err
			}
			from = last + 1
		}
		if from == 0 {
			from = 1
		}
		enc := json.NewEncoder(c.OutOrStdout())
		err = a.store.Follow(c.Context(), filter, from, func(env events.Envelope) error {
			return enc.Encode(map[string]any{"seq": env.Seq, "subject": env.Subject, "type": env.Type,
				"job_id": env.JobID, "time": env.Time, "actor": env.Actor, "data": env.Data})
		})
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	return cmd
}

func eventsExportCmd() *cobra.Command {
	var cfg config
	var job, out string
	cmd := &cobra.Command{
		Use:   "export [--job ID] [--out FILE]",
		Short: "Write the log (or one job's trail) as hash-chained JSON lines; prints the final hash to pin it",
		Args:  cobra.NoArgs,
	}
	bindErr := cfg.bindOnly(cmd.Flags(), operatorSettings...)
	cmd.Flags().StringVar(&job, "job", "", "only this job's events")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if bindErr != nil {
			return bindErr
		}
		filter, err := jobFilter(job)
		if err != nil {
			return err
		}
		a, err := openLog(c, cfg)
		if err != nil {
			return err
		}
		defer a.close()
		var w io.Writer = c.OutOrStdout()
		var file *os.File
		if out != "" {
			if file, err = os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
				return err
			}
			defer file.Close()
			w = file
		}
		x := events.NewExporter(w)
		// The events as stored (document data sealed): the chain an
		// auditor verifies does not change when a job is erased.
		if err := a.rawLog.Read(c.Context(), filter, 1, x.Write); err != nil {
			return err
		}
		n, final, err := x.Close()
		if err != nil {
			return err
		}
		if err := writeTrailer(w, n, final); err != nil {
			return err
		}
		if file != nil {
			if err := file.Close(); err != nil { // a full disk shows here, not as a short export
				return err
			}
		}
		fmt.Fprintf(c.ErrOrStderr(), "exported %d events; final hash %s\n", n, final)
		return nil
	}
	return cmd
}

func eventsVerifyCmd() *cobra.Command {
	var expect string
	cmd := &cobra.Command{
		Use:   "verify FILE [--expect HASH]",
		Short: "Check an export's hash chain and trailer (a cut-off export fails) and print its final hash",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			n, final, err := verifyExport(c.Context(), f)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if expect != "" && expect != final {
				return fmt.Errorf("%s: final hash %s, expected %s: the export is not the trail that was pinned", args[0], final, expect)
			}
			fmt.Fprintf(c.OutOrStdout(), "ok: %d events, final hash %s\n", n, final)
			return nil
		},
	}
	cmd.Flags().StringVar(&expect, "expect", "", "final hash recorded when the export was made; any other fails")
	return cmd
}
