package events

import (
	"encoding/json"
	"errors"
	"fmt"

	fastjson "github.com/goccy/go-json"
)

// Document data (titles, paths, descriptions, extra columns, tags and the
// errors that may quote a path or URL) is stored sealed: encrypted under
// the job's data key, so destroying that key erases it from every stored
// event without rewriting the log (crypto-shredding). The four document
// types carry it from v2 on; the fields that are not document data (rows,
// attempts, codes, token counts, costs) stay in the clear, so counts and
// the timeline survive an erasure. Sealing and opening happen in a store
// decorator (events/sealed): everything else reads plaintext structs.

// Sealing is embedded in the event types that carry document data.
// Sealed is the encrypted document data as stored (nil: in the clear, as
// every v1 event); Erased is set by a reader when the key was destroyed
// and the document data is gone. Neither is ever set together with the
// plaintext fields.
type Sealing struct {
	Sealed []byte `json:"sealed,omitempty"`
	Erased bool   `json:"erased,omitempty"`
	// WasSealed is set by Open when the stored event was sealed (and
	// opened); never stored. Erasure uses it to tell jobs logged before
	// sealing, which cannot be crypto-shredded.
	WasSealed bool `json:"-"`
}

func (s *Sealing) sealing() *Sealing { return s }

// Cipher seals and opens under one job's data key. aad binds a blob to
// the event it was written in, so a blob copied into another event (or
// job) does not open.
type Cipher interface {
	Seal(plain, aad []byte) []byte
	Open(blob, aad []byte) ([]byte, error)
}

// ErrUnsealable means a sealed blob failed to open under the job's key:
// the event was altered, or the key is not the one it was sealed with.
var ErrUnsealable = errors.New("events: sealed document data does not open")

// sealer is implemented by the (pointer) event types with document data.
type sealer interface {
	Event
	sealing() *Sealing
	secret() any                // the document data, marshalled into the blob
	clearSecret()               // zero the document data
	restore(plain []byte) error // fill the document data from the blob
}

var sealableTypes = map[string]bool{
	TypeDocumentsSubmitted: true, TypeDocumentTagged: true,
	TypeDocumentFailed: true, TypeDocumentReleased: true,
}

// Sealable reports whether events of typ carry document data.
func Sealable(typ string) bool { return sealableTypes[typ] }

func sealAAD(env Envelope) []byte {
	return []byte(env.JobID + "\x00" + env.Type + "\x00" + env.ID)
}

// Seal returns env with its document data encrypted by c (at the type's
// current version). Events without document data, and sealed ones, come
// back unchanged.
func Seal(env Envelope, c Cipher) (Envelope, error) {
	if !Sealable(env.Type) {
		return env, nil
	}
	ev, err := Types.Decode(env.Type, env.Version, env.Data)
	if err != nil {
		return env, err
	}
	s := ev.(sealer)
	sl := s.sealing()
	if sl.Sealed != nil {
		return env, nil
	}
	plain, err := fastjson.Marshal(s.secret())
	if err != nil {
		return env, err
	}
	s.clearSecret()
	sl.Sealed, sl.Erased = c.Seal(plain, sealAAD(env)), false
	if env.Data, err = fastjson.Marshal(ev); err != nil {
		return env, err
	}
	env.Version, env.decoded = Types.Version(env.Type), nil
	return env, nil
}

// WasSealed reports whether an event, as read through the sealing
// decorator, was stored sealed (whether or not its key still exists).
func WasSealed(env Envelope) bool {
	if !Sealable(env.Type) {
		return false
	}
	ev, err := env.Decode()
	return err == nil && ev.(sealer).sealing().WasSealed
}

// Open returns env with its document data in the clear, decoded once (the
// result is kept, as Load does). A nil key means the job's key was destroyed:
// the document data is dropped and the event marked Erased. An event this
// build cannot decode comes back unchanged, for its reader to skip. key
// is only called for a sealed event, so logs written before sealing cost
// no key lookups.
func Open(env Envelope, key func() (Cipher, error)) (Envelope, error) {
	if !Sealable(env.Type) {
		return env, nil
	}
	ev, err := env.decode() // a fresh struct: a shared decoded one must not change
	if err != nil {
		return env, nil
	}
	s := ev.(sealer)
	sl := s.sealing()
	if sl.Sealed == nil {
		env.decoded = ev
		return env, nil
	}
	c, err := key()
	if err != nil {
		return env, err
	}
	blob := sl.Sealed
	sl.Sealed, sl.WasSealed = nil, true
	if c == nil {
		sl.Erased = true
	} else {
		plain, err := c.Open(blob, sealAAD(env))
		if err != nil {
			return env, fmt.Errorf("%w (seq %d, job %s)", ErrUnsealable, env.Seq, env.JobID)
		}
		if err := s.restore(plain); err != nil {
			return env, fmt.Errorf("%w (seq %d): %v", ErrUnsealable, env.Seq, err)
		}
	}
	if env.Data, err = fastjson.Marshal(ev); err != nil {
		return env, err
	}
	env.decoded = ev
	return env, nil
}

// docSecret is what of a Document is document data.
type docSecret struct {
	Title       string         `json:"t,omitempty"`
	FilePath    string         `json:"p,omitempty"`
	Description string         `json:"d,omitempty"`
	Extra       map[string]any `json:"x,omitempty"`
}

func (e *DocumentsSubmitted) secret() any {
	out := make([]docSecret, len(e.Documents))
	for i, d := range e.Documents {
		out[i] = docSecret{Title: d.Title, FilePath: d.FilePath, Description: d.Description, Extra: d.Extra}
	}
	return out
}

func (e *DocumentsSubmitted) clearSecret() {
	for i := range e.Documents {
		d := &e.Documents[i]
		d.Title, d.FilePath, d.Description, d.Extra = "", "", "", nil
	}
}

func (e *DocumentsSubmitted) restore(plain []byte) error {
	var docs []docSecret
	if err := decodeJSON(plain, &docs); err != nil {
		return err
	}
	if len(docs) != len(e.Documents) {
		return fmt.Errorf("%d sealed documents for %d rows", len(docs), len(e.Documents))
	}
	for i, s := range docs {
		d := &e.Documents[i]
		d.Title, d.FilePath, d.Description, d.Extra = s.Title, s.FilePath, s.Description, s.Extra
	}
	return nil
}

func (e *DocumentTagged) secret() any                { return e.Tags }
func (e *DocumentTagged) clearSecret()               { e.Tags = nil }
func (e *DocumentTagged) restore(plain []byte) error { return decodeJSON(plain, &e.Tags) }

func (e *DocumentFailed) secret() any                { return e.Error }
func (e *DocumentFailed) clearSecret()               { e.Error = "" }
func (e *DocumentFailed) restore(plain []byte) error { return decodeJSON(plain, &e.Error) }

func (e *DocumentReleased) secret() any                { return e.Reason }
func (e *DocumentReleased) clearSecret()               { e.Reason = "" }
func (e *DocumentReleased) restore(plain []byte) error { return decodeJSON(plain, &e.Reason) }

// sameShape upcasts a v1 document event to v2: v1 data is v2 data in the
// clear (v2 only adds the optional sealed blob).
func sameShape(data json.RawMessage) (json.RawMessage, error) { return data, nil }
