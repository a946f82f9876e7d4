package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// operatorClient reaches a running serve on the data dir's socket, or
// returns errNoServe when none answers there.
func operatorClient(ctx context.Context, dataDir string) (*http.Client, error) {
	path := filepath.Join(dataDir, operatorSocket)
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	probe, err := dial(ctx, "", "")
	if err != nil {
		return nil, errNoServe // no socket, or a stale one
	}
	probe.Close()
	return &http.Client{Transport: &http.Transport{DialContext: dial}}, nil
}

// rebuildThroughServe asks the serve that holds the data dir to rebuild
// the named models, printing its progress as the local rebuild does.
func rebuildThroughServe(c *cobra.Command, hc *http.Client, names []string) error {
	ctx := c.Context()
	errOut, out := c.ErrOrStderr(), c.OutOrStdout()
	fmt.Fprintln(errOut, "the data dir is in use by a running serve: it rebuilds, and keeps serving meanwhile")
	start := time.Now()
	var seq uint64
	for i, name := range names {
		done, err := remoteRebuild(ctx, hc, name, errOut)
		if err != nil {
			return fmt.Errorf("rebuild %s: %w", name, err)
		}
		fmt.Fprintf(errOut, "rebuilt %s: generation %d at seq %d in %s\n", name, done.Generation, done.Seq,
			done.Took.Round(time.Millisecond))
		if i == 0 {
			seq = done.Seq
		}
	}
	took := time.Since(start)
	fmt.Fprintf(out, "replayed %d events in %s (%.0f events/s per model)\n", seq, took.Round(time.Millisecond),
		float64(seq)*float64(len(names))/took.Seconds())
	// The rebuilt models only (a serve before this filter sends every one).
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://serve/projections/digests?"+
		url.Values{"model": names}.Encode(), nil)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var lines []string
	if err := json.NewDecoder(resp.Body).Decode(&lines); err != nil {
		return fmt.Errorf("digests: %w", err)
	}
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
	return nil
}

func remoteRebuild(ctx context.Context, hc *http.Client, name string, progress io.Writer) (*rebuilt, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://serve/projections/"+name+"/rebuild", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("serve refused (%d): %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	show := progressPrinter(progress)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l operatorLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("serve answered %q: %w", sc.Text(), err)
		}
		switch {
		case l.Progress != nil:
			show(*l.Progress)
		case l.Error != "":
			return nil, fmt.Errorf("%s", l.Error)
		case l.Done != nil:
			return l.Done, nil
		}
	}
	// The answer ended without a result: serve went away (a broken
	// connection reads as "unexpected EOF"), unless we were stopped.
	how := ""
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		how = fmt.Sprintf(" (%v)", err)
	}
	return nil, fmt.Errorf("serve went away before the rebuild finished%s: a rebuild switches over only at its end, so unless it had just switched serve comes back on the old generation (/api/ready names it); run the rebuild again", how)
}
