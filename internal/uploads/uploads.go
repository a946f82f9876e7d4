// Package uploads keeps documents uploaded with a request (POST
// /api/single/process) until a worker, possibly on another machine, has
// tagged them: a JetStream object store bucket, one object per job and
// content hash, expired by the bucket's TTL.
//
// The log holds only the hash; the bytes never enter an event.
package uploads

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the object store bucket of uploaded documents.
const Bucket = "tagstream_uploads"

// DefaultTTL is how long an upload is kept: long enough for a paused or
// retried one-document job, short enough that uploads do not pile up.
const DefaultTTL = 24 * time.Hour

// ErrFull means the bucket holds its capacity already: uploads wait for
// older ones to expire (a day) rather than fill the disk the log is on.
var ErrFull = errors.New("uploads: the upload store is full")

// ErrNotFound means the upload expired or never existed.
var ErrNotFound = errors.New("uploads: the uploaded document is no longer stored (it expires after a day)")

// Store is the upload bucket.
type Store struct {
	js       jetstream.JetStream
	obj      jetstream.ObjectStore
	maxBytes int64
	capacity int64
}

// Open creates the bucket if needed. maxBytes caps what Get will return,
// as a second line behind the cap applied at upload; capacity bounds the
// bucket (0: none). Without it, 45 MB uploads kept for a day let one user
// fill the disk, and with it the log, at the start rate.
func Open(ctx context.Context, js jetstream.JetStream, replicas int, ttl time.Duration, maxBytes, capacity int64) (*Store, error) {
	if replicas <= 0 {
		replicas = 1
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: Bucket, Description: "documents uploaded for one-document jobs", TTL: ttl,
		// No MaxBytes on the stream: JetStream reserves it against the
		// server's storage, and 2 GiB kept serve from starting on a small
		// disk. Put checks the capacity instead.
		Storage: jetstream.FileStorage, Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("uploads: bucket: %w", err)
	}
	return &Store{js: js, obj: obj, maxBytes: maxBytes, capacity: capacity}, nil
}

// Name is the object name of an upload: job id and content hash, so an
// upload is only ever read by the job it was made for.
func Name(jobID, sum string) string { return jobID + "/" + sum }

// Sum is the hex SHA-256 the uploads are keyed by.
func Sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Put stores data for the job under its hash, or answers ErrFull.
// Concurrent uploads may pass the check together: the bound can be
// overshot by what the upload rate lets in at once, a few documents.
func (s *Store) Put(ctx context.Context, jobID, sum string, data []byte) error {
	if s.capacity > 0 {
		st, err := s.obj.Status(ctx)
		if err != nil {
			return err
		}
		if int64(st.Size())+int64(len(data)) > s.capacity {
			return ErrFull
		}
	}
	_, err := s.obj.PutBytes(ctx, Name(jobID, sum), data)
	return err
}

// Get returns the job's upload with hash sum, checked against the hash.
func (s *Store) Get(ctx context.Context, jobID, sum string) ([]byte, error) {
	name := Name(jobID, sum)
	info, err := s.obj.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if s.maxBytes > 0 && int64(info.Size) > s.maxBytes {
		return nil, fmt.Errorf("uploads: %d bytes stored, more than the %d allowed", info.Size, s.maxBytes)
	}
	data, err := s.obj.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if Sum(data) != sum {
		return nil, errors.New("uploads: stored document does not match its hash")
	}
	return data, nil
}
