package uploads

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/internal/testenv"
)

func dirHolds(t *testing.T, dir string, needle []byte) bool {
	return len(testenv.FilesContaining(t, dir, string(needle))) > 0
}

// Erasing a job removes its uploads, bytes included, and only its own.
func TestEraseJobOverwritesItsUploads(t *testing.T) {
	dir := t.TempDir()
	conn := natstest.Start(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, conn.JS, 1, 0, 1<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine := []byte("%PDF-1.4 Quetzalcoatl-ledger-5531 " + strings.Repeat("x", 300000)) // several chunks
	theirs := []byte("%PDF-1.4 Kilimanjaro-survey-2277")
	if err := s.Put(ctx, "job-a", Sum(mine), mine); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "job-b", Sum(theirs), theirs); err != nil {
		t.Fatal(err)
	}
	if !dirHolds(t, dir, []byte("Quetzalcoatl-ledger-5531")) {
		t.Fatal("the upload is not in the files: the scan proves nothing")
	}
	if err := s.EraseJob(ctx, "job-a"); err != nil {
		t.Fatal(err)
	}
	if dirHolds(t, dir, []byte("Quetzalcoatl-ledger-5531")) {
		t.Fatal("the erased upload's bytes remain in the store files")
	}
	if _, err := s.Get(ctx, "job-a", Sum(mine)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("erased upload: %v", err)
	}
	if got, err := s.Get(ctx, "job-b", Sum(theirs)); err != nil || !bytes.Equal(got, theirs) {
		t.Fatalf("another job's upload: %v", err)
	}
}
