package uploads

import (
	"context"
	"errors"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// EraseJob removes every upload of the job (an erasure). Each chunk's
// bytes are overwritten in the store files first (SecureDeleteMsg): a
// plain object delete only purges them, leaving the bytes on disk until
// the block is compacted.
func (s *Store) EraseJob(ctx context.Context, jobID string) error {
	list, err := s.obj.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		return err
	}
	stream, err := s.js.Stream(ctx, "OBJ_"+Bucket)
	if err != nil {
		return err
	}
	for _, info := range list {
		if !strings.HasPrefix(info.Name, jobID+"/") {
			continue
		}
		if err := secureDeleteSubject(ctx, s.js, stream, "$O."+Bucket+".C."+info.NUID); err != nil {
			return err
		}
		if err := s.obj.Delete(ctx, info.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return err
		}
	}
	return nil
}

// secureDeleteSubject overwrites every message stored on subject.
func secureDeleteSubject(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, subject string) error {
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return err
	}
	n := info.State.Subjects[subject]
	if n == 0 {
		return nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return err
	}
	var seqs []uint64
	for uint64(len(seqs)) < n {
		msg, err := cons.Next(jetstream.FetchMaxWait(5e9))
		if err != nil {
			return err
		}
		meta, err := msg.Metadata()
		if err != nil {
			return err
		}
		seqs = append(seqs, meta.Sequence.Stream)
	}
	for _, seq := range seqs {
		if err := stream.SecureDeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return err
		}
	}
	return nil
}
