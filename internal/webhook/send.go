package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tagstream/tagstream/internal/fetch"
)

// DefaultTimeout bounds one delivery attempt, connect to last byte.
const DefaultTimeout = 15 * time.Second

// MaxURLBytes bounds a callback URL.
const MaxURLBytes = 2048

// Config sets up a Sender.
type Config struct {
	Secret Secret
	// AllowPrivate lets callbacks reach loopback/private addresses and use
	// plain http (TAGSTREAM_FETCH_ALLOW_PRIVATE, for tests and closed
	// networks); otherwise only https to public addresses.
	AllowPrivate bool
	Timeout      time.Duration
}

// Payload is the thin body of every delivery: no titles, no tags; the
// receiver asks the API for more.
type Payload struct {
	Type      string    `json:"type"` // job.completed, job.failed, job.cancelled, job.paused
	JobID     string    `json:"job_id"`
	Status    string    `json:"status"`
	Timestamp time.Time `json:"timestamp"`
}

// Sender delivers signed webhooks through fetch's address rules, without
// proxies or redirects.
type Sender struct {
	cfg    Config
	guard  *fetch.Fetcher
	client *http.Client
}

// NewSender returns a sender.
func NewSender(cfg Config) *Sender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	guard := fetch.New(fetch.Config{AllowPrivate: cfg.AllowPrivate, ConnectTimeout: cfg.Timeout})
	t := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past the address rules
		DialContext:           guard.DialContext,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
	}
	client := &http.Client{Transport: t, Timeout: cfg.Timeout,
		// A redirect would let a receiver steer the signed body elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Sender{cfg: cfg, guard: guard, client: client}
}

// CheckURL validates a callback URL: https (http only with AllowPrivate),
// a host, no credentials, and the address rules of package fetch for a
// literal IP. A host name is checked again on every dial.
func CheckURL(raw string, allowPrivate bool) error {
	if len(raw) > MaxURLBytes {
		return fmt.Errorf("must be at most %d bytes", MaxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("must be an absolute https URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	default:
		return errors.New("must be an https URL")
	}
	if u.User != nil {
		return errors.New("must not carry credentials; webhooks are signed instead")
	}
	if _, err := fetch.New(fetch.Config{AllowPrivate: allowPrivate}).CheckURL(raw); err != nil {
		return err
	}
	return nil
}

// Result is the outcome of one attempt. StatusCode is 0 when no response
// came; Err is nil only for a 2xx answer and safe to store (no URL).
type Result struct {
	StatusCode int
	Err        error
}

// Send posts p to rawURL once, signed with id and the current time.
func (s *Sender) Send(ctx context.Context, rawURL, id string, p Payload) Result {
	if s.cfg.Secret.IsZero() {
		return Result{Err: errors.New("no webhook secret is configured")}
	}
	if err := CheckURL(rawURL, s.cfg.AllowPrivate); err != nil {
		return Result{Err: fmt.Errorf("callback URL refused: %w", err)}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return Result{Err: err}
	}
	now := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return Result{Err: errors.New("callback URL refused: cannot build a request")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", fetch.DefaultUserAgent)
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", s.cfg.Secret.Sign(id, now, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return Result{Err: safeErr(err)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Result{StatusCode: resp.StatusCode, Err: fmt.Errorf("receiver answered %s", resp.Status)}
	}
	return Result{StatusCode: resp.StatusCode}
}

// safeErr drops the URL (whose query may hold a token) from a client error.
func safeErr(err error) error {
	var fe *fetch.Error
	if errors.As(err, &fe) {
		return errors.New(fe.Reason)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("the receiver did not answer in time")
		}
		return fmt.Errorf("delivery failed: %v", ue.Err)
	}
	return err
}
