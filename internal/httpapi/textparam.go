package httpapi

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/internal/apperr"
)

// textParam reads a free-text query parameter (a search's words, a tag)
// that reaches SQL: at most maxBytes, UTF-8, no control characters. The
// stores differ on the rest (PostgreSQL refuses NUL in text outright,
// SQLite compares it), so it is refused here, as a 400 naming the
// parameter, before either sees it; no name, tag or word holds one.
func textParam(c *gin.Context, name string, maxBytes int) (string, error) {
	v := c.Query(name)
	if len(v) > maxBytes {
		return "", apperr.Field(name, "is longer than %d bytes", maxBytes)
	}
	if !utf8.ValidString(v) {
		return "", apperr.Field(name, "is not valid UTF-8")
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return "", apperr.Field(name, "must not contain control characters")
	}
	return v, nil
}

// boolParam reads a yes/no query parameter: absent or "false" is no,
// "true" yes; anything else ("1", "yes", "maybe") is a 400 naming it
// rather than a silent no (all=1 used to read only one's own jobs).
func boolParam(c *gin.Context, name string) (bool, error) {
	switch c.Query(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, apperr.Field(name, "must be true or false")
}

// formatParam reads format=: absent or empty is the first of formats,
// anything else must be one of them. An unknown format is a 400 naming
// it, not the default served as if asked for (results?format=xml used
// to answer JSON).
func formatParam(c *gin.Context, formats ...string) (string, error) {
	v := c.Query("format")
	if v == "" {
		return formats[0], nil
	}
	if slices.Contains(formats, v) {
		return v, nil
	}
	return "", apperr.Field("format", "must be %s", strings.Join(formats, ", "))
}
