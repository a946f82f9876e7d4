package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tagstream/tagstream/projections"
)

// A serve with the embedded NATS server holds the data dir's lock, so an
// operator command next to the data cannot open it. It asks the running
// serve instead, on a Unix socket in the data dir: whoever may open the
// data dir (mode 0700) may use it, the same proof of authority the
// command has without a server, and nothing is exposed on the network.
const operatorSocket = "operator.sock"

// operatorLine is one NDJSON line of a rebuild's answer: progress while
// it runs, then either done or error.
type operatorLine struct {
	Progress *projections.Progress `json:"progress,omitempty"`
	Done     *rebuilt              `json:"done,omitempty"`
	Error    string                `json:"error,omitempty"`
}

type rebuilt struct {
	Model      string        `json:"model"`
	Generation int           `json:"generation"`
	Seq        uint64        `json:"seq"`
	Took       time.Duration `json:"took_ns"`
}

// serveOperator answers operator commands on the data dir's socket until
// the returned stop is called. Any socket file left there is stale: this
// process holds the data dir's lock.
func (a *app) serveOperator() (stop func(), err error) {
	path := filepath.Join(a.cfg.DataDir, operatorSocket)
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	var busy sync.Map // model name -> rebuilding here
	mux := http.NewServeMux()
	mux.HandleFunc("POST /projections/{name}/rebuild", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !knownModel(name) {
			http.Error(w, "no read model "+name, http.StatusNotFound)
			return
		}
		if _, running := busy.LoadOrStore(name, true); running {
			http.Error(w, name+" is being rebuilt already", http.StatusConflict)
			return
		}
		defer busy.Delete(name)
		a.streamRebuild(w, r.Context(), name)
	})
	mux.HandleFunc("GET /projections/digests", func(w http.ResponseWriter, r *http.Request) {
		lines, err := modelDigests(r.Context(), a.read, r.URL.Query()["model"]...)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(lines)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close() // a rebuild still streaming: its request is cancelled
		}
		_ = os.Remove(path)
	}, nil
}

// streamRebuild rebuilds the model beside the serving one (which keeps
// answering, and shows the progress in /api/ready) and writes the progress
// as NDJSON as it goes. A client that goes away cancels it.
func (a *app) streamRebuild(w http.ResponseWriter, ctx context.Context, name string) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	began := time.Now()
	a.log.Info("rebuilding a read model for an operator command", "projection", name)
	err := a.read.Rebuild(ctx, name, func(p projections.Progress) {
		_ = enc.Encode(operatorLine{Progress: &p})
		flush()
	})
	if err != nil {
		a.log.Error("rebuild failed", "projection", name, "err", err)
		_ = enc.Encode(operatorLine{Error: err.Error()})
		return
	}
	st := statusOf(a.read, name)
	a.log.Info("read model rebuilt and switched", "projection", name, "generation", st.Generation)
	_ = enc.Encode(operatorLine{Done: &rebuilt{Model: name, Generation: st.Generation, Seq: st.Seq, Took: time.Since(began)}})
}

func knownModel(name string) bool {
	for _, n := range modelNames() {
		if n == name {
			return true
		}
	}
	return false
}

// errNoServe: no serve answers on the data dir's socket.
var errNoServe = errors.New("no running serve")
