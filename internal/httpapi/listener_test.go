package httpapi

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestConnectionCapsHoldAndHealthStillAnswers opens more connections than
// the caps allow, from one client address and then from several: the
// connections over a cap are closed at once, the held ones keep working,
// /api/health answers another address while one address is at its cap,
// and a freed slot can be used again.
func TestConnectionCapsHoldAndHealthStillAnswers(t *testing.T) {
	const perIP, total = 5, 8
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := LimitListener(raw, total, perIP)
	srv := NewHTTPServer(New(Deps{Log: slog.New(slog.DiscardHandler)}))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() { _ = srv.Close(); <-served }()
	addr := raw.Addr().String()

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	// health dials from src (any 127/8 address works on loopback), asks
	// for /api/health and keeps the connection open if it was answered.
	health := func(src string) (net.Conn, bool) {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial from %s: %v", src, err)
		}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // safety net, not a timing assertion
		if _, err := fmt.Fprint(c, "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			c.Close()
			return nil, false
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			return nil, false // closed by the cap
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("health from %s: %d", src, resp.StatusCode)
		}
		return c, true
	}

	// One address: perIP connections are served, the rest closed.
	refused := 0
	for range perIP + 10 {
		if c, ok := health("127.0.0.1"); ok {
			held = append(held, c)
		} else {
			refused++
		}
	}
	if len(held) != perIP || refused != 10 {
		t.Fatalf("one address: %d held, %d refused; want %d held, 10 refused", len(held), refused, perIP)
	}
	// Another address is still served while the first is at its cap.
	c, ok := health("127.0.0.2")
	if !ok {
		t.Fatal("/api/health did not answer another address while one address was at its cap")
	}
	held = append(held, c)
	// Fill the total from more addresses; then every address is refused.
	for _, src := range []string{"127.0.0.3", "127.0.0.4"} {
		c, ok := health(src)
		if !ok {
			t.Fatalf("%s refused below the total cap", src)
		}
		held = append(held, c)
	}
	if _, ok := health("127.0.0.5"); ok {
		t.Fatalf("a connection over the total cap of %d was served", total)
	}
	if n := ln.(*limitListener).Open(); n != total {
		t.Fatalf("listener holds %d connections, want %d", n, total)
	}
	// Closing one gives its slot back once the server has seen the close.
	held[0].Close()
	held = held[1:]
	for attempt := 0; ; attempt++ {
		if c, ok := health("127.0.0.5"); ok {
			held = append(held, c)
			break
		}
		if attempt == 200 {
			t.Fatal("a freed slot was never reused")
		}
		time.Sleep(10 * time.Millisecond) // polling the server's view of the close
	}
}
