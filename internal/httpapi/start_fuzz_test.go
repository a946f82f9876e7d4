package httpapi

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/services"
)

// nullStore is an empty log that accepts appends: enough for the start
// handler's validation to run to the end without NATS.
type nullStore struct{ seq uint64 }

func (s *nullStore) Append(context.Context, events.Envelope, *events.Expect) (uint64, error) {
	s.seq++
	return s.seq, nil
}
func (s *nullStore) Last(context.Context, string) (events.Envelope, error) {
	return events.Envelope{}, events.ErrNotFound
}
func (s *nullStore) Read(context.Context, string, uint64, func(events.Envelope) error) error {
	return nil
}
func (s *nullStore) Follow(context.Context, string, uint64, func(events.Envelope) error) error {
	return nil
}
func (s *nullStore) LastSeq(context.Context) (uint64, error) { return s.seq, nil }

type nullSecrets struct{}

func (nullSecrets) Claim(context.Context, string, string) (bool, error)  { return true, nil }
func (nullSecrets) Lookup(context.Context, string) (string, bool, error) { return "", false, nil }
func (nullSecrets) Delete(context.Context, string) error                 { return nil }

// assertClientError fails unless err is an *apperr.Error whose code maps
// to a 4xx status: arbitrary input must never look like a server fault.
func assertClientError(t *testing.T, stage string, err error) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("%s: %T is not an *apperr.Error: %v", stage, err, err)
	}
	if st := statusOf[ae.Code]; st < 400 || st > 499 {
		t.Fatalf("%s: code %q (status %d) for client input: %v", stage, ae.Code, st, err)
	}
	if ae.Message == "" {
		t.Fatalf("%s: error without a message: %#v", stage, ae)
	}
}

var startSeeds = []string{
	`{"documents":[{"file_path":"a.pdf"}],"config":{"model_name":"builtin/keywords"}}`,
	`{"documents":[{"Doc":"https://example.org/a.pdf","Name":"x","n":1}],"column_mapping":{"Doc":"file_path","Name":"title"},"config":{"model_name":"builtin/keywords","num_pages":3,"num_tags":8,"exclusion_words":"a, b"},"job_id":"job-1"}`,
	`{"documents":[{"file_path":"s3://bucket/key.pdf","file_source_type":"S3"}],"config":{"model_name":"m","api_key":"k","exclusion_words":["x"]}}`,
	`{"documents":[{"file_path":"../../etc/passwd"}],"config":{"model_name":"builtin/keywords"}}`,
	`{"documents":{},"config":[]}`,
	`{"documents":[null,[],1],"job_id":5}`,
	`{"documents":[{"file_path":"a.pdf"}],"config":{"num_tags":8.5,"num_pages":1e400}}`,
	"{\"documents\":[{\"file_path\":\"caf\xe9\"}]}",
	`{"documents":[{"file_path":"a\u0000b"}],"job_id":">"}`,
	`{"documents":[{"file_path":"a.pdf"}],"config":{"model_name":"builtin/keywords"},"column_mapping":{"A":"file_path","B":"file_path"}}`,
	`[[[[[[[[[[`, `null`, ``, `"x"`, `{"a":1}`,
}

// FuzzDecodeStartRequest feeds arbitrary bytes through the real start
// decoding path and then the start handler's validation: no panic, and
// every refusal is an apperr with a 4xx code.
func FuzzDecodeStartRequest(f *testing.F) {
	for _, s := range startSeeds {
		f.Add([]byte(s))
	}
	who := services.Caller{Actor: events.User("u1", "u1@example.com")}
	f.Fuzz(func(t *testing.T, body []byte) {
		cmd, err := DecodeStartRequest(bytes.NewReader(body), who)
		if err != nil {
			assertClientError(t, "decode", err)
			return
		}
		h := services.NewStartJobHandler(&nullStore{}, nullSecrets{}, 100, false)
		res, err := h.Handle(context.Background(), cmd)
		if err != nil {
			assertClientError(t, "start", err)
			return
		}
		if res.Total != len(cmd.Documents) || !events.ValidJobID(res.JobID) {
			t.Fatalf("accepted start: total %d of %d documents, job id %q", res.Total, len(cmd.Documents), res.JobID)
		}
		// A client's job id is scoped to its owner (services.OwnerScopedJobID).
		if cmd.JobID != "" && res.JobID != services.OwnerScopedJobID(who.Actor.ID, cmd.JobID) {
			t.Fatalf("client job id %q became %q", cmd.JobID, res.JobID)
		}
	})
}
