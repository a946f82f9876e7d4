// Package apperr defines the one error type that crosses package
// boundaries in Tagstream. Each error carries a machine code; the HTTP layer
// maps codes to statuses in a single table, so handlers never pick statuses
// themselves and internals never leak into responses.
package apperr

import (
	"errors"
	"fmt"
)

// Codes understood by every layer. The HTTP adapter maps each to a status.
const (
	Invalid      = "invalid"      // bad input: 400
	Unauthorized = "unauthorized" // missing, invalid or expired credentials: 401
	Forbidden    = "forbidden"    // authenticated but not allowed: 403
	NotFound     = "not_found"    // unknown or not visible to the caller: 404
	Conflict     = "conflict"     // transition not allowed in the current state: 409
	TooLarge     = "too_large"    // body or batch too large: 413
	RateLimited  = "rate_limited" // caller sends too much: 429
	Unavailable  = "unavailable"  // a dependency (NATS) is down: 503
	Internal     = "internal"     // anything else: 500, detail hidden
)

// Error is an application error with a code, a human message and, for input
// errors, the field (and row) it concerns.
type Error struct {
	Code    string
	Message string
	Field   string // JSON path of the offending field, e.g. "documents[3].file_path"
	Err     error  // underlying cause, never shown to clients
}

// Error returns the human message, or the cause for internal errors.
func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Code
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// New builds an error with a code and a formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field builds an input error about one field.
func Field(field, format string, args ...any) *Error {
	return &Error{Code: Invalid, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// Wrap marks err as internal unless it already carries a code.
func Wrap(err error, context string) error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	return &Error{Code: Internal, Message: "", Err: fmt.Errorf("%s: %w", context, err)}
}

// Code returns the code of err, Internal for foreign errors and "" for nil.
func Code(err error) string {
	if err == nil {
		return ""
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return Internal
}

// Message returns the message safe to show a client.
func Message(err error) string {
	var ae *Error
	if errors.As(err, &ae) && ae.Code != Internal && ae.Message != "" {
		return ae.Message
	}
	return "internal error"
}
