// Package fetch retrieves one document's bytes from its source (an http(s)
// URL, a file under the server's local root, or S3) under hard limits on
// size, time, redirects and reachable addresses.
//
// The package is a pure adapter: it imports nothing else from Tagstream, so
// workers and the validate-paths pre-flight share exactly the same rules.
package fetch

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultMaxBytes       int64 = 50 << 20
	DefaultConnectTimeout       = 10 * time.Second
	DefaultReadTimeout          = 30 * time.Second
	DefaultTotalTimeout         = 120 * time.Second
	DefaultMaxRedirects         = 5
	DefaultUserAgent            = "tagstream/1 (+document tagger)"
)

// Config bounds every fetch. Zero values get the documented defaults.
type Config struct {
	MaxBytes       int64         // default 50 MiB
	ConnectTimeout time.Duration // default 10s: bounds DNS + dial, and separately the TLS handshake
	ReadTimeout    time.Duration // default 30s: longest wait for response headers / between body reads
	TotalTimeout   time.Duration // default 120s for the whole fetch
	MaxRedirects   int           // default 5; negative means redirects are not followed
	AllowPrivate   bool          // TAGSTREAM_FETCH_ALLOW_PRIVATE
	LocalRoot      string        // TAGSTREAM_LOCAL_ROOT; empty = local sources refused
	UserAgent      string        // default "tagstream/1 (+document tagger)"
}

func (c Config) withDefaults() Config {
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.TotalTimeout <= 0 {
		c.TotalTimeout = DefaultTotalTimeout
	}
	switch {
	case c.MaxRedirects == 0:
		c.MaxRedirects = DefaultMaxRedirects
	case c.MaxRedirects < 0:
		c.MaxRedirects = 0
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	return c
}

// Source names a document: Type is "url", "local" or "s3". An empty Type is
// inferred from Path with InferType.
type Source struct{ Type, Path string }

// Source types.
const (
	TypeURL   = "url"
	TypeLocal = "local"
	TypeS3    = "s3"
)

// Error codes carried by Error.Code. They are stable: callers record them in
// events and aggregate failure reasons by them.
const (
	CodeNotFound         = "not_found"
	CodeTooLarge         = "too_large"
	CodeTimeout          = "timeout"
	CodeForbiddenAddress = "forbidden_address"
	CodeNotPDF           = "not_pdf"
	CodeHTTPStatus       = "http_status"
	CodeRedirects        = "redirects"
	CodeLocalDisabled    = "local_disabled"
	CodeOutsideRoot      = "outside_root"
	CodeS3NotConfigured  = "s3_not_configured"
	CodeBadSource        = "bad_source"
	CodeNetwork          = "network"
)

// Error is a per-document fetch failure with a readable reason. Reason is
// safe to show to users and to store in the event log: it never contains
// URL query strings, credentials or server-side paths.
type Error struct {
	Code   string
	Reason string
	Err    error
}

// Error returns the human-readable reason.
func (e *Error) Error() string { return e.Reason }

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// HTTPStatusError is the Err of an Error with code http_status or not_found
// that came from an HTTP response, so callers can branch on the status.
type HTTPStatusError struct {
	StatusCode int
}

// Error describes the status.
func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("HTTP status %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// fail builds an *Error but returns it as error, so that call sites cannot
// accidentally return a typed nil pointer in an error interface.
func fail(code string, err error, format string, args ...any) error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...), Err: err}
}

// Fetcher fetches documents. It is safe for concurrent use; create one per
// process so HTTP connections are pooled.
type Fetcher struct {
	cfg    Config
	client *http.Client
	s3     objectStore

	// lookup and dialIP are seams for tests: a test maps a public-looking
	// name to 127.0.0.1 (lookup) or pretends to be NAT (dialIP). The
	// address check runs between them, so it cannot be skipped by either.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	dialIP func(ctx context.Context, network string, ap netip.AddrPort) (net.Conn, error)
}

// New returns a Fetcher for cfg, with defaults filled in for zero fields.
func New(cfg Config) *Fetcher {
	f := &Fetcher{cfg: cfg.withDefaults()}
	f.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	f.dialIP = f.dialChecked
	f.client = f.newHTTPClient()
	return f
}

// Fetch returns the bytes of the document named by src. Every failure is an
// *Error.
func (f *Fetcher) Fetch(ctx context.Context, src Source) ([]byte, error) {
	return f.run(ctx, src, false)
}

// Check is the pre-flight used by POST /api/batch/validate-paths. It applies
// the same rules as Fetch without downloading the document: for url it asks
// with HEAD (falling back to a ranged GET of the first bytes when HEAD is
// refused or the type is doubtful), and for local it stats the file and
// checks the magic bytes. It returns nil when the source looks fetchable,
// otherwise an *Error.
func (f *Fetcher) Check(ctx context.Context, src Source) error {
	_, err := f.run(ctx, src, true)
	return err
}

func (f *Fetcher) run(ctx context.Context, src Source, check bool) (data []byte, err error) {
	// A panic here would take down a worker with every document it holds;
	// turn it into a per-document failure instead.
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, fail(CodeNetwork, nil, "internal error while fetching the document")
		}
	}()
	ctx, cancel := context.WithTimeoutCause(ctx, f.cfg.TotalTimeout, errTotalTimeout)
	defer cancel()

	typ := strings.ToLower(strings.TrimSpace(src.Type))
	if typ == "" {
		typ = InferType(src.Path)
	}
	switch typ {
	case TypeURL:
		if check {
			return nil, f.checkURL(ctx, src.Path)
		}
		return f.fetchURL(ctx, src.Path)
	case TypeLocal:
		return f.readLocal(src.Path, check)
	case TypeS3:
		return f.fetchS3(ctx, src.Path, check)
	default:
		return nil, fail(CodeBadSource, nil, "unknown source type %q (expected url, local or s3)", src.Type)
	}
}

// InferType returns the source type for a path whose type was not given:
// "http(s)://" is url, "s3://" is s3, anything else is local.
func InferType(path string) string {
	p := strings.ToLower(strings.TrimSpace(path))
	switch {
	case strings.HasPrefix(p, "http://"), strings.HasPrefix(p, "https://"):
		return TypeURL
	case strings.HasPrefix(p, "s3://"):
		return TypeS3
	default:
		return TypeLocal
	}
}

// humanBytes formats a byte count for reasons ("50 MiB", "1.5 KiB").
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + string("KMGTPE"[exp]) + "iB"
}
