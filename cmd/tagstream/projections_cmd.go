package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/projections"
)

func projectionsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "projections", Short: "Operate on the read models"}
	var cfg config
	rebuild := &cobra.Command{
		Use:   "rebuild [NAME...]",
		Short: "Rebuild read models beside the serving ones, switch over, and print their digests",
		Long: "Read models live in TAGSTREAM_READ_DB (SQLite in the data dir, or PostgreSQL) with a checkpoint each.\n" +
			"rebuild builds the next generation of each named model (all when none is named) from sequence 1\n" +
			"beside the serving one, then switches over in one transaction; a serve process sharing the\n" +
			"database keeps answering from the old generation meanwhile and follows the switch. Progress\n" +
			"(events done of total, rate, ETA) goes to stderr; each rebuilt model's size and digest to stdout, so a\n" +
			"rebuild and a live process can be compared. While a serve with the embedded NATS server holds the\n" +
			"data dir, the command asks it (on the data dir's operator socket) to rebuild and shows its progress.\n" +
			"Models: " + strings.Join(modelNames(), ", ") + ".",
	}
	bindErr := cfg.bindOnly(rebuild.Flags(), append(operatorSettings, "read-db")...)
	rebuild.RunE = func(c *cobra.Command, names []string) error {
		if bindErr != nil {
			return bindErr
		}
		known := map[string]bool{}
		for _, n := range modelNames() {
			known[n] = true
		}
		var once []string // "rebuild job-status job-status" rebuilt it twice
		for _, n := range names {
			if !known[n] {
				return fmt.Errorf("no read model %q (models: %s)", n, strings.Join(modelNames(), ", "))
			}
			if !slices.Contains(once, n) {
				once = append(once, n)
			}
		}
		names = once
		if len(names) == 0 {
			names = modelNames()
		}
		if err := cfg.validateReadDB(); err != nil {
			return err
		}
		if cfg.NatsURL == "" {
			// A serve holding the data dir rebuilds for us.
			if hc, err := operatorClient(c.Context(), cfg.DataDir); err == nil {
				return rebuildThroughServe(c, hc, names)
			}
		}
		a, err := openPlainLog(c, cfg, true)
		if err != nil {
			return err
		}
		defer a.close()
		ctx := c.Context()
		db, err := sqldb.Open(ctx, cfg.ReadDB, cfg.DataDir)
		if err != nil {
			return err
		}
		defer db.Close()
		r := projections.NewSQLRunner(db, a.store, sqlModels()...)
		r.RetiredGrace = projections.DefaultRetiredGrace // serve processes may still read them
		if err := r.Open(ctx); err != nil {
			return err
		}
		if err := r.DropRetired(ctx); err != nil { // no one is waiting on this process
			return err
		}
		start := time.Now()
		var skips *events.Skips
		for i, name := range names {
			// Every rebuild reads the same log: report the first's skips.
			s := events.NewSkips(nil, nil)
			if i == 0 {
				skips = s
			}
			r.RebuildSkips = s
			began := time.Now()
			if err := r.Rebuild(ctx, name, progressPrinter(c.ErrOrStderr())); err != nil {
				return fmt.Errorf("rebuild %s: %w", name, err)
			}
			st := statusOf(r, name)
			fmt.Fprintf(c.ErrOrStderr(), "rebuilt %s: generation %d at seq %d in %s\n", name, st.Generation, st.Seq,
				time.Since(began).Round(time.Millisecond))
		}
		took := time.Since(start)
		out := c.OutOrStdout()
		seq := r.Applied()
		if len(names) > 0 {
			seq = statusOf(r, names[0]).Seq
		}
		fmt.Fprintf(out, "replayed %d events in %s (%.0f events/s per model)\n", seq, took.Round(time.Millisecond),
			float64(seq)*float64(len(names))/took.Seconds())
		if sum := skips.Summary(); sum != "" {
			fmt.Fprintln(out, sum)
		}
		lines, err := modelDigests(ctx, r, names...)
		if err != nil {
			return err
		}
		for _, l := range lines {
			fmt.Fprintln(out, l)
		}
		return nil
	}
	cmd.AddCommand(rebuild)
	return cmd
}

func modelNames() []string {
	var out []string
	for _, m := range sqlModels() {
		out = append(out, m.Name())
	}
	return out
}

func statusOf(r *projections.SQLRunner, name string) projections.ModelStatus {
	for _, st := range r.Status() {
		if st.Name == name {
			return st
		}
	}
	return projections.ModelStatus{}
}

// validateReadDB checks TAGSTREAM_READ_DB without quoting it (it may hold
// a password).
func (c *config) validateReadDB() error {
	if c.ReadDB != "" && !strings.HasPrefix(c.ReadDB, "postgres://") && !strings.HasPrefix(c.ReadDB, "postgresql://") {
		return fmt.Errorf("TAGSTREAM_READ_DB must be empty (SQLite in the data dir) or a postgres:// URL")
	}
	return nil
}

// modelDigests summarises the SQL models the job and results queries read,
// for comparison between a rebuild and a live process: the named ones, or
// every model when none is named (a dump reads the whole model).
func modelDigests(ctx context.Context, rd projections.ReadDB, names ...string) ([]string, error) {
	dumps := []struct {
		name string
		dump func(context.Context) ([]byte, error)
	}{
		{projections.JobStatusName, projections.NewJobQueries(rd).Dump},
		{projections.DocumentResultsName, projections.NewResultQueries(rd).Dump},
		{projections.DocumentSearchName, projections.NewSearchReader(rd).Dump},
	}
	var lines []string
	for _, d := range dumps {
		if len(names) > 0 && !slices.Contains(names, d.name) {
			continue
		}
		snapshot, err := d.dump(ctx)
		if err != nil {
			return nil, err
		}
		lines = append(lines, digestLine(d.name, snapshot))
	}
	return lines, nil
}

// digestLine summarises a read model for comparison between processes.
func digestLine(name string, snapshot []byte) string {
	return fmt.Sprintf("%-18s %9d bytes  sha256 %x", name, len(snapshot), sha256.Sum256(snapshot))
}

// progressPrinter prints a rebuild's progress at most once a second, at
// every change of phase, and its last report.
func progressPrinter(w io.Writer) func(projections.Progress) {
	var last time.Time
	phase := ""
	return func(p projections.Progress) {
		if time.Since(last) < time.Second && p.Done < p.Total && p.Phase == phase {
			return
		}
		last, phase = time.Now(), p.Phase
		if p.Phase == projections.PhaseIndexing {
			fmt.Fprintf(w, "rebuilding %s: %d of %d events loaded, building its indexes\n", p.Model, p.Done, p.Total)
			return
		}
		pct := 100.0
		if p.Total > 0 {
			pct = 100 * float64(min(p.Done, p.Total)) / float64(p.Total)
		}
		fmt.Fprintf(w, "rebuilding %s: %d of %d events (%.0f%%), %.0f events/s, ETA %s\n",
			p.Model, p.Done, p.Total, pct, p.Rate, p.ETA.Round(time.Second))
	}
}
