package services

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// OwnerScopedJobID turns a client-chosen job id into the job's real id,
// derived from the owner and the client's id. Client ids are only unique
// per owner: two users choosing "nightly" get two jobs, so nobody can
// pre-claim another user's id, and a start can never answer "this id is
// taken by someone else", which would tell a prober it exists. The same
// owner sending the same id gets the same job back (idempotent start).
//
// The client's id stays readable as a prefix; the 24 hex digits (96 bits of
// SHA-256 over owner and id) make the result unique per owner. Server ids
// (batch-<unix>-<12 hex>) have a different suffix length, so the two
// kinds never collide.
func OwnerScopedJobID(ownerID, clientID string) string {
	// The owner's length makes the owner/id boundary unambiguous.
	sum := sha256.Sum256([]byte("tagstream job id\x00" + strconv.Itoa(len(ownerID)) + "\x00" + ownerID + clientID))
	prefix := clientID
	if len(prefix) > 39 {
		prefix = prefix[:39] // 39 + "-" + 24 = 64, the longest valid id
	}
	return prefix + "-" + hex.EncodeToString(sum[:12])
}
