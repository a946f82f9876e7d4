package httpapi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/tagstream/tagstream/internal/apperr"
)

// A search cursor holds the last document's id, a number over every
// document of the read database: written out ("d1:12062") it told anyone
// paging through their own few documents about how many the whole
// server holds. With a key (Deps.CursorKey, which serve derives from the
// secrets master key, so every API process reads the others' cursors) a
// cursor is the id encrypted in one AES block beside eight zero bytes,
// which a cursor not made with the key fails to decrypt to. Plain "d1:"
// cursors are then refused: anyone can write one, and the documents
// before "d1:N" gave the ids away again (a search paged from one issued
// before the upgrade starts again from its first page).
const (
	docCursorPrefix       = "d1:"
	sealedDocCursorPrefix = "d2"
)

type docCursors struct{ block cipher.Block }

func newDocCursors(key []byte) docCursors {
	if len(key) < 16 {
		return docCursors{}
	}
	b, err := aes.NewCipher(key[:16])
	if err != nil {
		return docCursors{}
	}
	return docCursors{block: b}
}

func (d docCursors) encode(id int64) any {
	if id == 0 {
		return nil
	}
	if d.block == nil {
		return base64.RawURLEncoding.EncodeToString([]byte(docCursorPrefix + strconv.FormatInt(id, 10)))
	}
	var b [aes.BlockSize]byte
	binary.BigEndian.PutUint64(b[:8], uint64(id))
	d.block.Encrypt(b[:], b[:])
	return sealedDocCursorPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func (d docCursors) decode(v string) (int64, error) {
	bad := apperr.Field("cursor", "is not a cursor this server issued")
	if d.block != nil {
		rest, ok := strings.CutPrefix(v, sealedDocCursorPrefix)
		if !ok {
			return 0, bad
		}
		b, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil || len(b) != aes.BlockSize {
			return 0, bad
		}
		d.block.Decrypt(b, b)
		id := int64(binary.BigEndian.Uint64(b[:8]))
		if subtle.ConstantTimeCompare(b[8:], make([]byte, 8)) != 1 || id < 1 {
			return 0, bad
		}
		return id, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || !strings.HasPrefix(string(raw), docCursorPrefix) {
		return 0, bad
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(string(raw), docCursorPrefix), 10, 64)
	if err != nil || id < 1 {
		return 0, bad
	}
	return id, nil
}
