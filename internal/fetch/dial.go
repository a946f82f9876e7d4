package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

var (
	errTotalTimeout   = errors.New("total fetch timeout")
	errConnectTimeout = errors.New("connect timeout")
	errReadStall      = errors.New("read timeout")
)

func (f *Fetcher) newHTTPClient() *http.Client {
	t := &http.Transport{
		// Environment proxies would dial on our behalf and bypass the
		// address check, so they are never used.
		Proxy:                  nil,
		DialContext:            f.dialContext,
		TLSHandshakeTimeout:    f.cfg.ConnectTimeout,
		ResponseHeaderTimeout:  f.cfg.ReadTimeout,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 1 << 20,
		// PDFs are compressed already; transparent gzip would also hide
		// Content-Length, which the early size refusal relies on.
		DisableCompression: true,
	}
	return &http.Client{Transport: t, CheckRedirect: f.checkRedirect}
}

// dialContext resolves host itself, refuses the whole host if any address
// is forbidden, and dials only the addresses it checked, so a DNS answer
// that changes between check and connect (rebinding) cannot slip through.
func (f *Fetcher) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fail(CodeBadSource, err, "invalid address %q", addr)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fail(CodeBadSource, err, "invalid port %q", portStr)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, f.cfg.ConnectTimeout, errConnectTimeout)
	defer cancel()

	var addrs []netip.Addr
	literal := false
	if a, err := netip.ParseAddr(host); err == nil {
		addrs, literal = []netip.Addr{a}, true
	} else if endsInNumber(host) {
		// Never hand a numeric-looking name to a resolver that might
		// decode it differently from us; validateURL refuses these
		// first, this is the backstop.
		return nil, fail(CodeBadSource, nil, "host %q is not a valid address", host)
	} else {
		addrs, err = f.lookup(ctx, host)
		if err != nil {
			if context.Cause(ctx) == errConnectTimeout {
				return nil, fail(CodeTimeout, err, "resolving %s timed out after %s", host, f.cfg.ConnectTimeout)
			}
			return nil, fail(CodeNetwork, err, "cannot resolve host %s: %s", host, shortNetErr(err))
		}
		if len(addrs) == 0 {
			return nil, fail(CodeNetwork, nil, "cannot resolve host %s: no addresses", host)
		}
	}
	if !f.cfg.AllowPrivate {
		for _, a := range addrs {
			if kind := forbiddenKind(a); kind != "" {
				if literal {
					return nil, fail(CodeForbiddenAddress, nil, "%s", literalRefusal(host, kind))
				}
				return nil, fail(CodeForbiddenAddress, nil, "%s", resolvedRefusal(host, a, kind))
			}
		}
	}
	var firstErr error
	for _, a := range addrs {
		conn, err := f.dialIP(ctx, network, netip.AddrPortFrom(a.Unmap(), uint16(port)))
		if err == nil {
			return conn, nil
		}
		var fe *Error
		if errors.As(err, &fe) {
			return nil, err
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if context.Cause(ctx) == errConnectTimeout {
		return nil, fail(CodeTimeout, firstErr, "connecting to %s timed out after %s", host, f.cfg.ConnectTimeout)
	}
	return nil, fail(CodeNetwork, firstErr, "cannot connect to %s: %s", net.JoinHostPort(host, portStr), shortNetErr(firstErr))
}

// dialChecked dials one already-checked address. The Control hook repeats
// the check on the socket address the kernel is about to connect to, as a
// backstop should any future code path reach the dialer unchecked.
func (f *Fetcher) dialChecked(ctx context.Context, network string, ap netip.AddrPort) (net.Conn, error) {
	d := &net.Dialer{KeepAlive: 30 * time.Second, Control: f.control}
	return d.DialContext(ctx, network, ap.String())
}

func (f *Fetcher) control(network, address string, _ syscall.RawConn) error {
	if f.cfg.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fail(CodeForbiddenAddress, err, "refused: cannot verify address %q", address)
	}
	if kind := forbiddenKind(ap.Addr()); kind != "" {
		return fail(CodeForbiddenAddress, nil, "%s", literalRefusal(ap.Addr().String(), kind))
	}
	return nil
}

// shortNetErr renders a network error without local socket addresses.
func shortNetErr(err error) string {
	if err == nil {
		return "unknown error"
	}
	var se *net.DNSError
	if errors.As(err, &se) {
		return se.Err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return fmt.Sprint(op.Err)
	}
	return err.Error()
}
