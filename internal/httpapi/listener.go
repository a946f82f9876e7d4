package httpapi

import (
	"net"
	"sync"
)

// Connection caps: every open connection costs a file descriptor, so one
// client address (or many) must not be able to use them all.
const (
	DefaultMaxConns      = 4096
	DefaultMaxConnsPerIP = 128
)

// LimitListener caps the connections open at once, in total and per
// client address. A connection over a cap is closed as soon as it is
// accepted: the client sees a reset instead of waiting in the kernel's
// backlog, and the server never holds more descriptors than the caps.
// Behind a proxy every client shares the proxy's address; set perIP to 0
// (no per-address cap) there and let the proxy cap per client.
func LimitListener(ln net.Listener, total, perIP int) net.Listener {
	return &limitListener{Listener: ln, total: total, perIP: perIP, byIP: map[string]int{}}
}

type limitListener struct {
	net.Listener
	total, perIP int

	mu   sync.Mutex
	open int
	byIP map[string]int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := hostOf(c.RemoteAddr())
		if l.take(ip) {
			return &limitedConn{Conn: c, release: func() { l.release(ip) }}, nil
		}
		_ = c.Close()
	}
}

func (l *limitListener) take(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total > 0 && l.open >= l.total {
		return false
	}
	if l.perIP > 0 && l.byIP[ip] >= l.perIP {
		return false
	}
	l.open++
	l.byIP[ip]++
	return true
}

func (l *limitListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
}

// Open reports the connections currently held (for tests and metrics).
func (l *limitListener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// limitedConn gives its slot back once, on the first Close.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
