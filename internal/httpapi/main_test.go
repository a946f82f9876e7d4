package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind (a
// stream's pinger, a handler stuck on a client that left, an export still
// running). No goroutine is ignored: every server and client the tests
// start is closed by them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// serveReal serves the API over real HTTP with the production server
// settings (NewHTTPServer), closed when the test ends.
func serveReal(t *testing.T, d Deps) *httptest.Server {
	t.Helper()
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	ts := httptest.NewUnstartedServer(New(d))
	ts.Config = NewHTTPServer(ts.Config.Handler)
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// closeIdle drops a client's kept-alive connections so goleak sees none.
func closeIdle(c *http.Client) { c.CloseIdleConnections() }
