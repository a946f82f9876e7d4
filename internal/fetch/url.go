package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// validateURL parses raw and applies every rule that can be decided without
// the network. The dialer applies the address rules again on what it dials.
func (f *Fetcher) validateURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fail(CodeBadSource, nil, "empty URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fail(CodeBadSource, err, "invalid URL: %s", urlParseReason(err))
	}
	return u, f.validateParsed(u)
}

func (f *Fetcher) validateParsed(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fail(CodeBadSource, nil, "unsupported URL scheme %q (only http and https)", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return fail(CodeBadSource, nil, "URL %s has no host", redact(u))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fail(CodeBadSource, nil, "URL %s has an invalid port", redact(u))
		}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if kind := forbiddenKind(a); kind != "" && !f.cfg.AllowPrivate {
			return fail(CodeForbiddenAddress, nil, "%s", literalRefusal(host, kind))
		}
		return nil
	}
	if endsInNumber(host) {
		a, ok := parseLegacyIPv4(host)
		if !ok {
			return fail(CodeBadSource, nil, "host %q looks like an IP address but is not a valid one", host)
		}
		if kind := forbiddenKind(a); kind != "" && !f.cfg.AllowPrivate {
			return fail(CodeForbiddenAddress, nil, "refused: %s is an encoded form of %s address %s %s", host, kind, a, allowHint)
		}
		// Parsers disagree on these encodings, so even a harmless one is
		// refused rather than guessed at.
		return fail(CodeBadSource, nil, "host %q is an unusual encoding of the IP address %s; write it as %s", host, a, a)
	}
	return nil
}

func urlParseReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "cannot parse"
}

// redact renders u for reasons: no credentials, query or fragment, since
// presigned URLs carry secrets there and reasons land in the event log.
func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.cfg.MaxRedirects {
		return fail(CodeRedirects, nil, "too many redirects: stopped after %d (limit %d), last pointing to %s", f.cfg.MaxRedirects, f.cfg.MaxRedirects, redact(req.URL))
	}
	for _, v := range via {
		if v.URL.String() == req.URL.String() {
			return fail(CodeRedirects, nil, "redirect loop: %s redirects back to itself after %d redirects", redact(req.URL), len(via))
		}
	}
	return f.validateParsed(req.URL)
}

// request holds one HTTP exchange's context and its stage, which decides
// how a bare "timeout" from net/http is explained.
type request struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc
	u        *url.URL
	inTLS    atomic.Bool
	stall    *time.Timer
	resp     *http.Response
	readWait time.Duration
}

func (f *Fetcher) do(ctx context.Context, method string, u *url.URL, hdr http.Header) (*request, error) {
	r := &request{u: u, readWait: f.cfg.ReadTimeout}
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	trace := &httptrace.ClientTrace{
		TLSHandshakeStart: func() { r.inTLS.Store(true) },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { r.inTLS.Store(false) },
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(r.ctx, trace), method, u.String(), nil)
	if err != nil {
		r.cancel(nil)
		return nil, fail(CodeBadSource, err, "invalid URL %s", redact(u))
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	req.Header.Set("Accept", "application/pdf, */*;q=0.5")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := f.client.Do(req)
	if err != nil {
		err = f.classify(r, err) // before cancel, which would mask the cause
		r.cancel(nil)
		return nil, err
	}
	r.resp = resp
	// The body watchdog cancels the request if one Read waits longer than
	// ReadTimeout; a total deadline alone would let a trickling server hold
	// a worker for the full TotalTimeout.
	r.stall = time.AfterFunc(time.Hour, func() { r.cancel(errReadStall) })
	r.stall.Stop()
	return r, nil
}

func (r *request) Read(p []byte) (int, error) {
	r.stall.Reset(r.readWait)
	n, err := r.resp.Body.Read(p)
	r.stall.Stop()
	return n, err
}

func (r *request) close() {
	r.stall.Stop()
	r.resp.Body.Close()
	r.cancel(nil)
}

// classify turns an error from net/http into an *Error.
func (f *Fetcher) classify(r *request, err error) error {
	host := r.u.Host
	if r.resp != nil {
		host = r.resp.Request.URL.Host
	}
	// The context is consulted first: once it is done, net/http may report
	// either the context error or whatever the dialer returned meanwhile.
	switch cause := context.Cause(r.ctx); {
	case cause == errReadStall:
		return fail(CodeTimeout, err, "%s stopped sending data: nothing received for %s", host, f.cfg.ReadTimeout)
	case cause == errTotalTimeout:
		return fail(CodeTimeout, err, "fetching from %s took longer than the %s limit", host, f.cfg.TotalTimeout)
	case errors.Is(cause, context.DeadlineExceeded):
		return fail(CodeTimeout, cause, "fetching from %s was stopped by the caller's deadline", host)
	case errors.Is(cause, context.Canceled):
		return fail(CodeNetwork, cause, "fetching from %s was cancelled", host)
	}
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		if r.inTLS.Load() {
			return fail(CodeTimeout, unwrapURL(err), "TLS handshake with %s timed out after %s", host, f.cfg.ConnectTimeout)
		}
		return fail(CodeTimeout, unwrapURL(err), "%s sent no response headers within %s", host, f.cfg.ReadTimeout)
	}
	return fail(CodeNetwork, unwrapURL(err), "network error talking to %s: %s", host, shortNetErr(unwrapURL(err)))
}

// unwrapURL drops the *url.Error layer, whose text repeats the full URL
// including any query secrets.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (f *Fetcher) statusError(r *request) error {
	code := r.resp.StatusCode
	se := &HTTPStatusError{StatusCode: code}
	where := redact(r.resp.Request.URL)
	if code == http.StatusNotFound || code == http.StatusGone {
		return fail(CodeNotFound, se, "not found: %s answered %d %s", where, code, http.StatusText(code))
	}
	return fail(CodeHTTPStatus, se, "%s answered HTTP %d %s", where, code, http.StatusText(code))
}

func (f *Fetcher) fetchURL(ctx context.Context, raw string) ([]byte, error) {
	u, err := f.validateURL(raw)
	if err != nil {
		return nil, err
	}
	r, err := f.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	defer r.close()
	if r.resp.StatusCode < 200 || r.resp.StatusCode > 299 {
		return nil, f.statusError(r)
	}
	if cl := r.resp.ContentLength; cl > f.cfg.MaxBytes {
		return nil, fail(CodeTooLarge, nil, "document is too large: the server reports %s, over the %s limit", humanBytes(cl), humanBytes(f.cfg.MaxBytes))
	}
	// Check the magic on the first bytes before pulling up to MaxBytes of
	// an HTML error page.
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(r, head)
	head = head[:n]
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, f.classify(r, err)
	}
	if !hasPDFMagic(head) {
		return nil, notPDF(head, r.resp.Header.Get("Content-Type"))
	}
	var buf bytes.Buffer
	if cl := r.resp.ContentLength; cl > 0 {
		buf.Grow(int(cl))
	}
	buf.Write(head)
	if _, err := buf.ReadFrom(io.LimitReader(r, f.cfg.MaxBytes+1-int64(n))); err != nil {
		return nil, f.classify(r, err)
	}
	if int64(buf.Len()) > f.cfg.MaxBytes {
		return nil, fail(CodeTooLarge, nil, "document is too large: more than the %s limit", humanBytes(f.cfg.MaxBytes))
	}
	return buf.Bytes(), nil
}

// checkURL asks with HEAD and only falls back to reading the first bytes
// when HEAD is refused (presigned URLs are often GET-only) or the reported
// type makes a PDF doubtful, since the magic bytes decide, not the type.
func (f *Fetcher) checkURL(ctx context.Context, raw string) error {
	u, err := f.validateURL(raw)
	if err != nil {
		return err
	}
	r, err := f.do(ctx, http.MethodHead, u, nil)
	if err != nil {
		return err
	}
	r.close()
	switch code := r.resp.StatusCode; {
	case code == http.StatusMethodNotAllowed, code == http.StatusNotImplemented, code == http.StatusForbidden:
		return f.checkRanged(ctx, u)
	case code < 200 || code > 299:
		return f.statusError(r)
	}
	if cl := r.resp.ContentLength; cl > f.cfg.MaxBytes {
		return fail(CodeTooLarge, nil, "document is too large: the server reports %s, over the %s limit", humanBytes(cl), humanBytes(f.cfg.MaxBytes))
	}
	// The Content-Type is not trusted even when it says PDF: servers label
	// login and error pages application/pdf too, and tagging would then
	// fail on a row the pre-flight called ok. The first bytes decide.
	return f.checkRanged(ctx, u)
}

func (f *Fetcher) checkRanged(ctx context.Context, u *url.URL) error {
	hdr := http.Header{"Range": {"bytes=0-" + strconv.Itoa(sniffLen-1)}}
	r, err := f.do(ctx, http.MethodGet, u, hdr)
	if err != nil {
		return err
	}
	defer r.close()
	switch code := r.resp.StatusCode; {
	case code == http.StatusRequestedRangeNotSatisfiable:
		return fail(CodeNotPDF, nil, "not a PDF: the document is empty")
	case code < 200 || code > 299:
		return f.statusError(r)
	}
	size := r.resp.ContentLength
	if cr := r.resp.Header.Get("Content-Range"); r.resp.StatusCode == http.StatusPartialContent && cr != "" {
		size = -1
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
				size = n
			}
		}
	}
	if size > f.cfg.MaxBytes {
		return fail(CodeTooLarge, nil, "document is too large: the server reports %s, over the %s limit", humanBytes(size), humanBytes(f.cfg.MaxBytes))
	}
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return f.classify(r, err)
	}
	if !hasPDFMagic(head[:n]) {
		return notPDF(head[:n], r.resp.Header.Get("Content-Type"))
	}
	return nil
}
