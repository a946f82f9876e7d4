package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// run builds the command tree and executes it; it returns the exit code.
func run(ctx context.Context, args []string) int {
	root := newRootCmd(os.Stdout, os.Stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		reportError(os.Stderr, root, args, err)
		return exitCodeOf(err)
	}
	return 0
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "tagstream",
		Short:         "Tag batches of PDF documents with an LLM; every job transition is an event in NATS JetStream",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		processCmd("serve", "Run the API, read models and tagging workers (embedded NATS unless TAGSTREAM_NATS_URL is set)", roles{api: true, workers: true}),
		processCmd("worker", "Run tagging workers only, against TAGSTREAM_NATS_URL", roles{workers: true}),
		projectionsCmd(),
		extractCmd(),
		eventsCmd(),
		adminCmd(),
		loginCmd(), logoutCmd(), batchCmd(), documentsCmd(),
	)
	return root
}

// processCmd is `serve` or `worker`.
func processCmd(use, short string, r roles) *cobra.Command {
	var cfg config
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
	bindErr := cfg.bind(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if bindErr != nil {
			return bindErr
		}
		if err := cfg.validate(); err != nil {
			return err
		}
		if err := applyMemoryLimit(cfg.MemoryLimit); err != nil {
			return err
		}
		if !r.api && cfg.NatsURL == "" {
			return fmt.Errorf("worker needs TAGSTREAM_NATS_URL (a worker shares work through a NATS server)")
		}
		log := newLogger(cmd.ErrOrStderr(), cfg.LogLevel)
		ctx := cmd.Context()
		a, err := openApp(ctx, cfg, r, newTagger(cfg, log), log)
		if err != nil {
			return err
		}
		// Opening leaves garbage the process never needs again (NATS
		// recovering the stream's per-subject index, the read models
		// catching up): hand it back to the OS now rather than over the
		// scavenger's minutes (about 100 MiB of RSS with 5 million events).
		debug.FreeOSMemory()
		var ln net.Listener
		addr := cfg.Addr
		if !r.api {
			addr = cfg.MetricsAddr
		}
		if addr != "" {
			if ln, err = net.Listen("tcp", addr); err != nil {
				a.close()
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
		}
		return a.run(ctx, ln)
	}
	return cmd
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	log := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
	slog.SetDefault(log)
	return log
}
