package natsx_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tagstream/tagstream/internal/natsx"
)

// writeCerts makes a CA and a server certificate for 127.0.0.1 signed by it.
func writeCerts(t *testing.T) (ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	return write("ca.crt", "CERTIFICATE", caDER), write("server.crt", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}

// With a certificate the embedded server speaks TLS (its in-process
// connection still works); a client that trusts the CA and knows the
// password connects, a plaintext client does not.
func TestTLSListener(t *testing.T) {
	ca, cert, key := writeCerts(t)
	auth := natsx.Auth{User: "tagstream", Password: "tls-pass", TLSCert: cert, TLSKey: key}
	_, url := embed(t, auth)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := natsx.Connect(ctx, natsx.Config{URL: url, Auth: natsx.Auth{User: "tagstream", Password: "tls-pass", TLSCA: ca}})
	if err != nil {
		t.Fatalf("TLS client trusting the CA: %v", err)
	}
	defer c.Close()
	if _, err := c.JS.AccountInfo(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dial(url, nats.UserInfo("tagstream", "tls-pass")); err == nil {
		t.Fatal("a client without the CA connected")
	}
	err = dial(url, nats.UserInfo("tagstream", "wrong"), nats.RootCAs(ca))
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("wrong password over TLS: %v", err)
	}
}
