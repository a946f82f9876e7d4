package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// applyMemoryLimit sets the Go runtime's soft memory limit from
// TAGSTREAM_MEMORY_LIMIT unless GOMEMLIMIT is set. Without one, the
// collector lets garbage from a large job's events grow the heap well past
// what the process really keeps (656 MiB peak against 280 MiB live for a
// 100,000-document job, see BENCHMARKS.md). It is a soft limit: a larger
// live heap still works, the collector just runs more often.
func applyMemoryLimit(setting string) error {
	if os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	n, err := parseBytes(setting)
	if err != nil {
		return fmt.Errorf("TAGSTREAM_MEMORY_LIMIT=%q: %w", setting, err)
	}
	if n > 0 {
		debug.SetMemoryLimit(n)
	}
	return nil
}

// parseBytes reads "400MiB", "2GiB", "512000" or "0"/"off" (no limit).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" || strings.EqualFold(s, "off") {
		return 0, nil
	}
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSuffix(s, suffix), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a size (use bytes or KiB/MiB/GiB, e.g. 400MiB)")
	}
	return n * mult, nil
}
