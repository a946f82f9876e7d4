package metrics

import (
	"strings"
	"sync"
)

// capped bounds a label's values: the first max distinct values seen are
// kept, every later one becomes "other". Model ids and failure codes come
// from job requests and taggers, so without a cap a client could create
// series without end.
type capped struct {
	mu   sync.Mutex
	max  int
	seen map[string]struct{}
	// keepCase keeps upper case letters (event type names are CamelCase
	// and read better as written); everything else clean refuses still is.
	keepCase bool
}

func newCapped(max int) *capped { return &capped{max: max, seen: map[string]struct{}{}} }

// Other is the label value for everything past the cap or unusable.
const Other = "other"

func (c *capped) value(s string) string {
	if c.keepCase {
		s = strings.TrimSpace(s)
		if low := clean(s); low == "" || low != strings.ToLower(s) {
			s = ""
		}
	} else {
		s = clean(s)
	}
	if s == "" {
		return Other
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[s]; ok {
		return s
	}
	if len(c.seen) >= c.max {
		return Other
	}
	c.seen[s] = struct{}{}
	return s
}

// clean keeps label values short and free of anything a free-text reason
// might carry: lowercase letters, digits and . _ - / : only, 64 at most.
// A value with any other character is refused rather than mangled, so a
// leaked message never shows up in part.
func clean(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > 64 {
		return ""
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/:", r)
		if !ok {
			return ""
		}
	}
	return s
}

// statusClass turns 404 into "4xx": the route label already says where, the
// class says how it went, and the product stays small.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return Other
	}
	return string(rune('0'+status/100)) + "xx"
}
