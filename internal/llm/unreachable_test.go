package llm

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/llm/llmfake"
)

// closedPort returns a loopback address where nothing listens: a port that
// was just listened on and closed.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// An endpoint that cannot be reached is a typed error naming the endpoint
// and the cause in words, never "(HTTP 0)", after a short bounded number
// of calls rather than the 5xx budget.
func TestUnreachableEndpointIsTypedAndBounded(t *testing.T) {
	plain := httptest.NewServer(http.NotFoundHandler()) // speaks HTTP, not TLS
	t.Cleanup(plain.Close)
	addr := closedPort(t)
	cases := []struct {
		name, base, endpoint, cause string
	}{
		{"connection refused", "http://" + addr + "/v1", "http://" + addr, "connection refused"},
		{"unresolvable host", "http://nonexistent.invalid/v1", "http://nonexistent.invalid", "not found (DNS)"},
		{"TLS to a plain server", "https://" + plain.Listener.Addr().String() + "/v1", "https://" + plain.Listener.Addr().String(), "TLS handshake failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := testClient(tc.base, func(c *Config) { c.Sleep = noSleep }).Tag(context.Background(), baseRequest())
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindUnreachable {
				t.Fatalf("err = %#v, want KindUnreachable", err)
			}
			want := "cannot reach the model endpoint " + tc.endpoint + ": "
			if !strings.HasPrefix(e.Error(), want) || !strings.Contains(e.Error(), tc.cause) {
				t.Fatalf("message %q, want %q...%q", e.Error(), want, tc.cause)
			}
			if strings.Contains(e.Error(), "HTTP 0") || strings.Contains(e.Error(), "/v1") || strings.Contains(e.Error(), testKey) {
				t.Fatalf("message %q", e.Error())
			}
			if res.Calls != DefaultUnreachableAttempts {
				t.Fatalf("%d calls, want %d", res.Calls, DefaultUnreachableAttempts)
			}
			if e.Transient() {
				t.Fatal("unreachable must not be retried as a transient failure by callers")
			}
		})
	}
}

// A connection that breaks after it was made is not "unreachable": it is
// retried as a server failure.
func TestResetAfterConnectIsNotUnreachable(t *testing.T) {
	f := newFake(t, func(_ int, _ llmfake.Request, w http.ResponseWriter) {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	})
	_, err := testClient(f.BaseURL(), func(c *Config) { c.Sleep = noSleep }).Tag(context.Background(), baseRequest())
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindServer {
		t.Fatalf("err = %#v, want KindServer", err)
	}
}
