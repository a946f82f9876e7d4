package uploads

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/natsx/natstest"
)

// An upload is read back only by its job and hash, whole (it spans many
// object chunks), and not beyond the size cap.
func TestPutGetIsBoundToJobAndHash(t *testing.T) {
	conn := natstest.Start(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, conn.JS, 1, 0, 1<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("%PDF-1.4\n" + strings.Repeat("stream of bytes ", 40000)) // ~640 KB, several chunks
	sum := Sum(data)
	if err := s.Put(ctx, "job-a", sum, data); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "job-a", sum)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get: %d bytes, %v", len(got), err)
	}
	if _, err := s.Get(ctx, "job-b", sum); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another job's upload: %v", err)
	}
	if _, err := s.Get(ctx, "job-a", Sum([]byte("other"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another hash: %v", err)
	}
	// Bytes stored under a hash they do not have are refused.
	if err := s.Put(ctx, "job-c", sum, []byte("%PDF-1.4 tampered")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "job-c", sum); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("tampered upload: %v", err)
	}
	small, err := Open(ctx, conn.JS, 1, 0, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Get(ctx, "job-a", sum); err == nil {
		t.Fatal("an upload over the cap was returned")
	}
}

// The bucket holds at most its capacity: an upload that would pass it is
// ErrFull, and what is stored stays readable.
func TestPutRefusesPastTheCapacity(t *testing.T) {
	conn := natstest.Start(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, conn.JS, 1, 0, 1<<20, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	doc := func(n int) []byte { return []byte("%PDF-1.4\n" + strings.Repeat(fmt.Sprint(n), 600<<10)) }
	first := doc(1)
	if err := s.Put(ctx, "job-a", Sum(first), first); err != nil {
		t.Fatal(err)
	}
	second := doc(2)
	if err := s.Put(ctx, "job-b", Sum(second), second); !errors.Is(err, ErrFull) {
		t.Fatalf("a second 600 KB upload in 1 MiB: %v, want ErrFull", err)
	}
	if got, err := s.Get(ctx, "job-a", Sum(first)); err != nil || !bytes.Equal(got, first) {
		t.Fatalf("the first upload after the refusal: %d bytes, %v", len(got), err)
	}
	// A capacity far above what the server can store still opens: the
	// stream reserves nothing (a MaxBytes of 2 GiB kept serve from starting
	// on a small disk).
	if _, err := Open(ctx, conn.JS, 1, 0, 1<<20, 1<<50); err != nil {
		t.Fatalf("open with a capacity of 1 PiB: %v", err)
	}
}
