package llm

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// KindUnreachable is a call that never reached the model: the endpoint's
// name did not resolve, nothing listened, the TLS handshake failed or the
// connection could not be opened in time. It says nothing about the
// document, so callers put the document back and, when it repeats, stop
// the job instead of failing documents one by one.
const KindUnreachable Kind = "unreachable"

// DefaultUnreachableAttempts is how often one document tries an endpoint
// it cannot reach: one quick retry rides out a blip, more only burn time
// (each DNS or connect failure may itself take seconds).
const DefaultUnreachableAttempts = 2

// unreachableBackoff is the pause before that retry.
const unreachableBackoff = 500 * time.Millisecond

// connectionCause returns, in words, why no connection to the endpoint
// could be made, or "" when err happened after a connection existed (a
// reset mid-answer is a server failure, retried as one).
func connectionCause(err error) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			return "host name " + dnsErr.Name + " not found (DNS)"
		}
		if dnsErr.IsTimeout {
			return "DNS lookup of " + dnsErr.Name + " timed out"
		}
		return "DNS lookup of " + dnsErr.Name + " failed"
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &invalid):
		return "TLS certificate not accepted"
	case errors.As(err, &recErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http replaces the RecordHeaderError by that plain string.
		return "TLS handshake failed (the endpoint does not speak TLS)"
	case errors.As(err, &alert):
		return "TLS handshake failed"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return "connection refused"
		case op.Timeout():
			return "timed out connecting"
		case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
			return "no route to host"
		}
		return "cannot connect"
	}
	return ""
}

// unreachableError is the error for a call to u that never reached it.
// Only scheme and host are named: path, query and credentials stay out.
func unreachableError(u *url.URL, cause string) *Error {
	return &Error{Kind: KindUnreachable, Message: "cannot reach the model endpoint " + u.Scheme + "://" + u.Host + ": " + cause}
}
