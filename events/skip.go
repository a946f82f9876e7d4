package events

import (
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Readers that meet an event this build does not know (a type or version
// written by a newer release) skip it instead of stopping: one foreign
// event must never stop serving or dispatching other jobs, and rolling
// back a release that added a type must be possible. Skips is where they
// say so: it counts, logs once per reader and type, and feeds a metric and
// /api/ready ("degraded").

// Reader names used with Skips.Skip.
const (
	ReaderProjections = "projections"
	ReaderDispatcher  = "dispatcher"
	ReaderWorker      = "worker"
	ReaderObservers   = "observers"
)

// maxSkipKinds bounds the distinct types remembered: the log is data, and
// a flood of invented type names must not grow memory or label sets.
const maxSkipKinds = 32

// SkipOther stands for every type past maxSkipKinds.
const SkipOther = "other"

// Skips counts skipped events per reader and type. A nil *Skips is valid
// and only ignores, so readers need not check whether one was wired.
type Skips struct {
	log   *slog.Logger
	count func(reader, typ string)

	mu     sync.Mutex
	byKind map[[2]string]uint64 // reader, type
	types  map[string]uint64
	total  uint64
	// bad holds the sequences of messages that are not events (up to
	// maxSkipKinds; badMore: there were others), for Summary: every
	// reader skips the same message, so it counts messages, not skips.
	bad     map[uint64]struct{}
	badMore bool
}

// NewSkips returns a counter that logs the first skip of each reader and
// type on log (nil: no log) and calls count (nil: none) for every skip,
// with the type already bounded.
func NewSkips(log *slog.Logger, count func(reader, typ string)) *Skips {
	return &Skips{log: log, count: count, byKind: map[[2]string]uint64{}, types: map[string]uint64{}, bad: map[uint64]struct{}{}}
}

// Skip records that reader skipped env because of err (see IsUnknown).
func (s *Skips) Skip(reader string, env Envelope, err error) {
	if s == nil {
		return
	}
	typ := SkipType(env, err)
	s.mu.Lock()
	// Malformed messages keep their one name whatever the others did, so
	// Summary can still name their sequences.
	if _, seen := s.types[typ]; !seen && typ != SkipMalformed && len(s.types) >= maxSkipKinds {
		typ = SkipOther
	}
	key := [2]string{reader, typ}
	first := s.byKind[key] == 0
	s.byKind[key]++
	s.types[typ]++
	s.total++
	if typ == SkipMalformed {
		if _, seen := s.bad[env.Seq]; !seen && len(s.bad) < maxSkipKinds {
			s.bad[env.Seq] = struct{}{}
		} else if !seen {
			s.badMore = true
		}
	}
	s.mu.Unlock()
	if typ == SkipMalformed && s.log != nil {
		// Each one: an operator wants every sequence.
		s.log.Error("skipping a message of the log that does not decode",
			"reader", reader, "seq", env.Seq, "subject", env.Subject, "type", env.Type, "err", err)
	} else if first && s.log != nil {
		s.log.Warn("skipping events this build does not know; upgrade this process to read them",
			"reader", reader, "type", typ, "version", env.Version, "seq", env.Seq, "job_id", env.JobID, "err", err)
	}
	if s.count != nil {
		s.count(reader, typ)
	}
}

// Total is the number of events skipped so far, by every reader.
func (s *Skips) Total() uint64 {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Types lists the skipped type names, sorted.
func (s *Skips) Types() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.types))
	for t := range s.types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Count is how many events reader skipped of type typ.
func (s *Skips) Count(reader, typ string) uint64 {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byKind[[2]string{reader, typ}]
}

// Summary says what was skipped, for /api/ready and the operator's
// rebuild: events of types or versions this build does not know (an
// upgrade reads them) apart from messages that do not decode, named by
// sequence. "" when nothing was skipped.
func (s *Skips) Summary() string {
	if s == nil {
		return ""
	}
	names := slices.DeleteFunc(s.Types(), func(t string) bool { return t == SkipMalformed })
	s.mu.Lock()
	unknown := s.total - s.types[SkipMalformed]
	bad := make([]uint64, 0, len(s.bad))
	for seq := range s.bad {
		bad = append(bad, seq)
	}
	more := s.badMore
	s.mu.Unlock()
	slices.Sort(bad)
	var parts []string
	if unknown > 0 {
		parts = append(parts, fmt.Sprintf("skipped %d events this build does not know (types: %s); upgrade this process to read them",
			unknown, strings.Join(names, ", ")))
	}
	if len(bad) > 0 {
		seqs := make([]string, len(bad))
		for i, q := range bad {
			seqs[i] = strconv.FormatUint(q, 10)
		}
		list := strings.Join(seqs, ", ")
		if more {
			list += " and more (the log names them)"
		}
		parts = append(parts, fmt.Sprintf("skipped messages of the log that do not decode (seq %s)", list))
	}
	return strings.Join(parts, "; ")
}
