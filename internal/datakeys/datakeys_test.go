package datakeys_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
	"github.com/tagstream/tagstream/events/sealed"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/datakeys"
	"github.com/tagstream/tagstream/internal/natsx"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
	"github.com/tagstream/tagstream/internal/testenv"
)

var master = bytes.Repeat([]byte{7}, 32)

// filesContain reports whether any file under dir holds needle.
func filesContain(t *testing.T, dir string, needle []byte) bool {
	return len(testenv.FilesContaining(t, dir, string(needle))) > 0
}

// twoProcesses opens the data keys twice, as two processes on one
// cluster would, until the test ends.
func twoProcesses(ctx context.Context, t *testing.T, conn *natsx.Conn) (*datakeys.Keys, *datakeys.Keys) {
	t.Helper()
	var ks [2]*datakeys.Keys
	for i := range ks {
		k, err := datakeys.Open(ctx, conn.JS, 1, master)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(k.Close)
		ks[i] = k
	}
	return ks[0], ks[1]
}

// Document data is sealed in the stored events and opens through the
// decorator; once the key is destroyed its wrapped bytes are gone from the
// store files, readers get the erased view (rows and codes, no data), a
// second process drops its cached key, and nothing more can be sealed.
func TestSealedStoreAndDestroyedKey(t *testing.T) {
	dir := t.TempDir()
	conn := natstest.Start(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	raw, err := jsstore.Open(ctx, conn.JS, jsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys, other := twoProcesses(ctx, t, conn)
	store := sealed.New(raw, keys)
	const secret = "Zanzibar-cadastre-7731"
	env, err := events.New("job-1", events.System, events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{secret},
		Metadata: events.TagMetadata{TotalTokens: 42}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, env, nil); err != nil {
		t.Fatal(err)
	}
	if filesContain(t, dir, []byte(secret)) {
		t.Fatal("the tag is in the JetStream files in plaintext")
	}
	got, err := store.Last(ctx, events.DocSubject("job-1", 0))
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := got.Decode()
	if tg := ev.(*events.DocumentTagged); len(tg.Tags) != 1 || tg.Tags[0] != secret || tg.Sealed != nil {
		t.Fatalf("opened: %+v", tg)
	}
	if !bytes.Contains(got.Data, []byte(secret)) {
		t.Fatalf("opened data: %s", got.Data)
	}
	// The other process caches the key before it is destroyed.
	if c, err := other.ForRead(ctx, "job-1"); err != nil || c == nil {
		t.Fatalf("other process: %v %v", c, err)
	}
	wrapped, err := conn.JS.Stream(ctx, datakeys.Stream)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := wrapped.GetLastMsgForSubject(ctx, "datakeys.job-1")
	if err != nil {
		t.Fatal(err)
	}
	if !filesContain(t, dir, msg.Data) {
		t.Fatal("the wrapped key is not in the files: the scan proves nothing")
	}
	if err := keys.Destroy(ctx, "job-1"); err != nil {
		t.Fatal(err)
	}
	if filesContain(t, dir, msg.Data) {
		t.Fatal("the wrapped key's bytes are still in the store files")
	}
	got, err = store.Last(ctx, events.DocSubject("job-1", 0))
	if err != nil {
		t.Fatal(err)
	}
	ev, _ = got.Decode()
	if tg := ev.(*events.DocumentTagged); tg.Tags != nil || !tg.Erased || tg.Metadata.TotalTokens != 42 {
		t.Fatalf("erased view: %+v", tg)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := other.ForRead(ctx, "job-1")
		if err != nil {
			t.Fatal(err)
		}
		if c == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other process still uses the destroyed key")
		}
		time.Sleep(10 * time.Millisecond)
	}
	env2, _ := events.New("job-1", events.System, events.DocumentFailed{Row: 1, Attempt: 1, Error: "late"})
	if _, err := store.Append(ctx, env2, nil); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("append after erasure: %v", err)
	}
	if ok, err := keys.Exists(ctx, "job-1"); ok || err != nil {
		t.Fatalf("exists after destroy: %v %v", ok, err)
	}
	if err := keys.Destroy(ctx, "job-1"); err != nil {
		t.Fatalf("destroy twice: %v", err)
	}
}

// A blob opens only with its key and its aad, and a damaged one is an
// error, never a panic.
func TestCipherRefusesOtherKeysAndAAD(t *testing.T) {
	a, _ := datakeys.NewCipher(bytes.Repeat([]byte{1}, 32))
	b, _ := datakeys.NewCipher(bytes.Repeat([]byte{2}, 32))
	blob := a.Seal([]byte("title"), []byte("ev-1"))
	if p, err := a.Open(blob, []byte("ev-1")); err != nil || string(p) != "title" {
		t.Fatalf("open: %q %v", p, err)
	}
	for name, try := range map[string]func() ([]byte, error){
		"other key": func() ([]byte, error) { return b.Open(blob, []byte("ev-1")) },
		"other aad": func() ([]byte, error) { return a.Open(blob, []byte("ev-2")) },
		"cut":       func() ([]byte, error) { return a.Open(blob[:10], []byte("ev-1")) },
	} {
		if _, err := try(); !errors.Is(err, datakeys.ErrBadBlob) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzCipherOpen(f *testing.F) {
	c, _ := datakeys.NewCipher(bytes.Repeat([]byte{1}, 32))
	f.Add(c.Seal([]byte("x"), nil))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, blob []byte) {
		if p, err := c.Open(blob, nil); err == nil && string(p) != "x" {
			t.Fatalf("opened a forged blob: %q", p)
		}
	})
}

// A process with another master key than the cluster's would leave every
// sealed task and event unreadable; it is refused at start, and processes
// with the cluster's key still open.
func TestOtherMasterKeyIsRefusedAtStart(t *testing.T) {
	conn := natstest.Start(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := datakeys.Open(ctx, conn.JS, 1, master)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := datakeys.Open(ctx, conn.JS, 1, bytes.Repeat([]byte{8}, 32)); !errors.Is(err, datakeys.ErrOtherMasterKey) {
		t.Fatalf("another master key: %v, want ErrOtherMasterKey", err)
	}
	again, err := datakeys.Open(ctx, conn.JS, 1, master)
	if err != nil {
		t.Fatalf("the cluster's master key: %v", err)
	}
	again.Close()
}

// A job's digest of a request is the same from any process while its key
// lives, differs between jobs and from the plain SHA-256 a reader of the
// log could compute from a guess, and cannot be made again once the key
// is destroyed (another process's cache drop is the test above's).
func TestDigestIsKeyedByTheJobsKey(t *testing.T) {
	conn := natstest.Start(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	keys, other := twoProcesses(ctx, t, conn)
	request := []byte(`{"D":[{"title":"Circular 12","file_path":"https://example.org/c12.pdf"}]}`)
	d1, err := keys.Digest(ctx, "job-1", request)
	if err != nil {
		t.Fatal(err)
	}
	again, err1 := other.Digest(ctx, "job-1", request)
	d2, err2 := keys.Digest(ctx, "job-2", request)
	plain := sha256.Sum256(request)
	switch {
	case err1 != nil || err2 != nil:
		t.Fatal(err1, err2)
	case len(d1) != 64 || again != d1:
		t.Fatalf("job-1's digest from two processes: %s, %s", d1, again)
	case d2 == d1 || d1 == hex.EncodeToString(plain[:]):
		t.Fatalf("digest %s is not keyed by the job (job-2 %s)", d1, d2)
	}
	if err := keys.Destroy(ctx, "job-1"); err != nil {
		t.Fatal(err)
	}
	if d, err := keys.Digest(ctx, "job-1", request); !errors.Is(err, datakeys.ErrErased) {
		t.Fatalf("digest after the key was destroyed: %q %v", d, err)
	}
}
