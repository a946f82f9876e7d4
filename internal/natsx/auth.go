package natsx

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Auth is how clients prove who they are to NATS, and how the embedded
// server checks them. The same settings serve both sides, so a worker on
// another machine is configured exactly like the serve it connects to.
type Auth struct {
	User, Password string
	// CredsFile is an NKEY seed file (a line starting "SU"), usable with
	// the embedded server, or a .creds file (JWT and seed) for an external
	// NATS in operator mode.
	CredsFile string
	// TLS: with Cert and Key the embedded server listens with TLS only (a
	// client presents them as its own certificate, for an external NATS
	// that asks for one); with CA a client verifies the server against it.
	// Clients are told apart by their credentials, not by certificates.
	TLSCert, TLSKey, TLSCA string
}

// ErrNoCredentials is returned when a listening server has no way to tell
// clients apart: an anonymous port would let anyone read and forge events.
var ErrNoCredentials = errors.New("natsx: refusing to listen without credentials: set TAGSTREAM_NATS_USER and TAGSTREAM_NATS_PASSWORD, " +
	"or TAGSTREAM_NATS_CREDS with an NKEY seed file (nk -gen user), and the same on every worker")

func (a Auth) hasCredentials() bool {
	return (a.User != "" && a.Password != "") || a.CredsFile != ""
}

func (a Auth) validate() error {
	if (a.User == "") != (a.Password == "") {
		return errors.New("natsx: TAGSTREAM_NATS_USER and TAGSTREAM_NATS_PASSWORD go together")
	}
	if a.CredsFile != "" && a.User != "" {
		return errors.New("natsx: set either TAGSTREAM_NATS_USER/PASSWORD or TAGSTREAM_NATS_CREDS, not both")
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		return errors.New("natsx: TAGSTREAM_NATS_TLS_CERT and TAGSTREAM_NATS_TLS_KEY go together")
	}
	return nil
}

// isJWTCreds tells a .creds file (operator mode) from a bare NKEY seed.
func isJWTCreds(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("natsx: creds file: %w", err)
	}
	return bytes.Contains(b, []byte("BEGIN NATS USER JWT")), nil
}

// serverOptions configures the embedded server to accept only these
// credentials (the in-process connection included).
func (a Auth) serverOptions(opts *server.Options) error {
	if err := a.validate(); err != nil {
		return err
	}
	switch {
	case a.CredsFile != "":
		jwt, err := isJWTCreds(a.CredsFile)
		if err != nil {
			return err
		}
		if jwt {
			return errors.New("natsx: a .creds file with a JWT needs an external NATS in operator mode; " +
				"the embedded server takes TAGSTREAM_NATS_USER/PASSWORD or an NKEY seed file")
		}
		seed, err := os.ReadFile(a.CredsFile)
		if err != nil {
			return fmt.Errorf("natsx: creds file: %w", err)
		}
		kp, err := nkeys.ParseDecoratedNKey(seed)
		if err != nil {
			return fmt.Errorf("natsx: creds file %s holds no NKEY seed: %w", a.CredsFile, err)
		}
		pub, err := kp.PublicKey()
		kp.Wipe()
		if err != nil {
			return fmt.Errorf("natsx: creds file: %w", err)
		}
		opts.Nkeys = []*server.NkeyUser{{Nkey: pub}}
	case a.User != "":
		opts.Users = []*server.User{{Username: a.User, Password: a.Password}}
	}
	if a.TLSCert != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: a.TLSCert, KeyFile: a.TLSKey})
		if err != nil {
			return fmt.Errorf("natsx: TLS: %w", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSTimeout = tc, true, 5
	}
	return nil
}

// clientOptions are the nats.Options that present these credentials.
// inProcess is serve's own connection to its embedded server: a net.Pipe
// inside this process, which the server still wraps in TLS when it has a
// certificate; there is no network to verify the peer over, so the
// handshake skips verification there (and only there).
func (a Auth) clientOptions(inProcess bool) ([]nats.Option, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	switch {
	case a.CredsFile != "":
		jwt, err := isJWTCreds(a.CredsFile)
		if err != nil {
			return nil, err
		}
		if jwt {
			opts = append(opts, nats.UserCredentials(a.CredsFile))
		} else {
			o, err := nats.NkeyOptionFromSeed(a.CredsFile)
			if err != nil {
				return nil, fmt.Errorf("natsx: creds file %s: %w", a.CredsFile, err)
			}
			opts = append(opts, o)
		}
	case a.User != "":
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if inProcess {
		if a.TLSCert != "" {
			opts = append(opts, nats.Secure(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})) //nolint:gosec // in-process pipe, see above
		}
		return opts, nil
	}
	if a.TLSCA != "" {
		opts = append(opts, nats.RootCAs(a.TLSCA))
	}
	if a.TLSCert != "" {
		opts = append(opts, nats.ClientCert(a.TLSCert, a.TLSKey))
	}
	return opts, nil
}
