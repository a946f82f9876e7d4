package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/projections"
)

func projectionsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "projections", Short: "Operate on the read models"}
	var cfg config
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Rebuild every read model from sequence 1 of the event log and print its digest",
		Long: "Read models live in memory and every serve process rebuilds them from the log at start-up;\n" +
			"this command replays the log the same way, next to the data (or against TAGSTREAM_NATS_URL),\n" +
			"and prints each model's size and digest so two rebuilds (or a live process) can be compared.",
		Args: cobra.NoArgs,
	}
	bindErr := cfg.bindOnly(rebuild.Flags(), operatorSettings...)
	rebuild.RunE = func(c *cobra.Command, _ []string) error {
		if bindErr != nil {
			return bindErr
		}
		a, err := openLog(c, cfg)
		if err != nil {
			return err
		}
		defer a.close()
		fresh := &app{jobs: projections.NewJobStatus(), results: projections.NewDocumentResults(), analytics: projections.NewAnalytics()}
		runner := projections.NewRunner(a.store, fresh.readModels()...)
		skips := events.NewSkips(nil, nil)
		runner.CountSkips(skips)
		start := time.Now()
		last, err := a.store.LastSeq(c.Context())
		if err != nil {
			return err
		}
		stop := reportProgress(c.ErrOrStderr(), runner, last)
		err = runner.CatchUp(c.Context())
		stop()
		if err != nil {
			return err
		}
		took := time.Since(start)
		out := c.OutOrStdout()
		fmt.Fprintf(out, "replayed %d events in %s (%.0f events/s)\n", runner.Applied(), took.Round(time.Millisecond),
			float64(runner.Applied())/took.Seconds())
		if n := skips.Total(); n > 0 {
			fmt.Fprintf(out, "skipped %d events this build does not know (types: %s)\n", n, strings.Join(skips.Types(), ", "))
		}
		for _, p := range fresh.readModels() {
			snap, err := p.Snapshot()
			if err != nil {
				return err
			}
			fmt.Fprintln(out, digestLine(p.Name(), snap))
		}
		return nil
	}
	cmd.AddCommand(rebuild)
	return cmd
}

// digestLine summarises a read model for comparison between processes.
func digestLine(name string, snapshot []byte) string {
	return fmt.Sprintf("%-18s %9d bytes  sha256 %x", name, len(snapshot), sha256.Sum256(snapshot))
}

// reportProgress prints how far a replay has got, once a second, until stop.
func reportProgress(w io.Writer, r *projections.Runner, last uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if last > 0 {
					fmt.Fprintf(w, "rebuilding: %d of %d events (%.0f%%)\n", r.Applied(), last, 100*float64(r.Applied())/float64(last))
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}
