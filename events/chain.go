package events

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
)

// ExportLine is one event of an exported audit trail. Hash chains every
// line to the one before it, so editing, removing or reordering a line of
// an export breaks every hash after it.
type ExportLine struct {
	Seq     uint64   `json:"seq"`
	Subject string   `json:"subject"`
	Event   Envelope `json:"event"`
	Prev    string   `json:"prev"`
	Hash    string   `json:"hash"`
}

// Link computes the chain hash of env after prev (hex, "" for the first).
func Link(prev string, seq uint64, subject string, env Envelope) (string, error) {
	body, err := json.Marshal(env)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%d\n%s\n", prev, seq, subject)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Exporter writes a hash-chained export, one JSON line per event.
type Exporter struct {
	w    *bufio.Writer
	prev string
	n    int
}

// NewExporter starts an export on w.
func NewExporter(w io.Writer) *Exporter { return &Exporter{w: bufio.NewWriter(w)} }

// Write appends one event.
func (x *Exporter) Write(env Envelope) error {
	if env.broken != nil {
		// Readers skip it; an export for auditors cannot pretend it holds
		// an envelope, nor leave a hole in the chain.
		return env.broken
	}
	hash, err := Link(x.prev, env.Seq, env.Subject, env)
	if err != nil {
		return err
	}
	line, err := json.Marshal(ExportLine{Seq: env.Seq, Subject: env.Subject, Event: env, Prev: x.prev, Hash: hash})
	if err != nil {
		return err
	}
	x.prev = hash
	x.n++
	if _, err := x.w.Write(line); err != nil {
		return err
	}
	return x.w.WriteByte('\n')
}

// Close flushes the export and returns the number of events and the final
// hash, which an auditor can record to pin the whole trail.
func (x *Exporter) Close() (int, string, error) { return x.n, x.prev, x.w.Flush() }

// Verify checks an export line by line and returns the number of events
// and the final hash, or the first line that does not chain.
func Verify(r io.Reader) (int, string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	prev, n := "", 0
	for sc.Scan() {
		n++
		var l ExportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return n, prev, fmt.Errorf("line %d: not an export line: %v", n, err)
		}
		if l.Prev != prev {
			return n, prev, fmt.Errorf("line %d (seq %d): chain broken: a line before it was changed, removed or reordered", n, l.Seq)
		}
		want, err := Link(prev, l.Seq, l.Subject, l.Event)
		if err != nil {
			return n, prev, err
		}
		if want != l.Hash {
			return n, prev, fmt.Errorf("line %d (seq %d): hash mismatch: the event was altered", n, l.Seq)
		}
		prev = l.Hash
	}
	return n, prev, sc.Err()
}
