package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/projections"
)

// serve killed mid-rebuild: the answer breaks off after some progress.
// The CLI says serve went away and what that means, not "unexpected EOF".
func TestRemoteRebuildSaysServeWentAway(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		json.NewEncoder(w).Encode(operatorLine{Progress: &projections.Progress{Model: "job-status", Phase: projections.PhaseLoading, Done: 10, Total: 100}})
		// A chunked answer cut before its last chunk, as a process that
		// dies leaves it.
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	}))
	defer ts.Close()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", ts.Listener.Addr().String())
	}}}
	_, err := remoteRebuild(context.Background(), hc, "job-status", io.Discard)
	if err == nil || !strings.Contains(err.Error(), "serve went away before the rebuild finished") ||
		!strings.Contains(err.Error(), "old generation") {
		t.Fatalf("error %v, want one saying serve went away and the old generation serves", err)
	}
}
