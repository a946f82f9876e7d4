package fetch

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/testenv"
)

// corpusPDF returns a real PDF from the shared corpus.
func corpusPDF(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(testenv.CorpusFile(t, "groff-report.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantErr asserts err is an *Error with the code and a reason containing
// every fragment, and returns it.
func wantErr(t *testing.T, err error, code string, fragments ...string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want code %q", code)
	}
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %T %q is not *fetch.Error", err, err)
	}
	if _, direct := err.(*Error); !direct {
		t.Errorf("error is wrapped (%T), want *Error itself", err)
	}
	if fe.Code != code {
		t.Fatalf("code = %q (reason %q), want %q", fe.Code, fe.Reason, code)
	}
	for _, f := range fragments {
		if !strings.Contains(fe.Reason, f) {
			t.Errorf("reason %q does not mention %q", fe.Reason, f)
		}
	}
	if fe.Error() != fe.Reason {
		t.Errorf("Error() = %q, want the reason", fe.Error())
	}
	return fe
}

// counter counts requests that reached a handler: refusal tests assert it
// stays zero, proving nothing was fetched.
type counter struct{ n atomic.Int64 }

func (c *counter) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { c.n.Add(1); h(w, r) }
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func servePDF(pdf []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Write(pdf)
	}
}

// withNames installs a fake resolver; names not in the map fail to resolve
// so tests never touch real DNS.
func withNames(f *Fetcher, names map[string][]string) {
	f.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		ips, ok := names[host]
		if !ok {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		var out []netip.Addr
		for _, s := range ips {
			out = append(out, netip.MustParseAddr(s))
		}
		return out, nil
	}
}

// withNAT makes dials to public address pub land on the loopback test
// servers, as a NAT would, so a "public" first hop can be tested offline.
func withNAT(f *Fetcher, pub string) {
	p := netip.MustParseAddr(pub)
	f.dialIP = func(ctx context.Context, network string, ap netip.AddrPort) (net.Conn, error) {
		if ap.Addr() == p {
			ap = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port())
		}
		var d net.Dialer
		return d.DialContext(ctx, network, ap.String())
	}
}

func port(s *httptest.Server) string {
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	return p
}

func quick(t *testing.T, start time.Time, limit time.Duration) {
	t.Helper()
	if d := time.Since(start); d > limit {
		t.Errorf("took %s, want under %s", d, limit)
	}
}
