package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// certLifetime is how long a certificate of a PKI stays valid. A test
// lasts seconds; a day leaves room for a debugger session.
const certLifetime = 24 * time.Hour

// PKI is a throw-away certificate authority for TLS tests: a CA, a server
// certificate for 127.0.0.1 and localhost, and client certificates issued
// on demand, all written as PEM files into the test's temporary directory.
//
// Every PKI has a CA of its own, unrelated to any other, so a second
// NewPKI gives the "wrong CA" for tests of rejected certificates.
type PKI struct {
	// CAFile is the CA certificate, for a server's cafile or a client's
	// trusted roots.
	CAFile string
	// Server is a certificate for 127.0.0.1 and localhost signed by the CA.
	Server CertFiles

	dir   string
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
	seq   atomic.Int64
}

// CertFiles names a certificate and its private key, both PEM files.
// The zero value stands for no certificate at all.
type CertFiles struct {
	CertFile string
	KeyFile  string
}

// NewPKI makes a CA and a server certificate in a new temporary directory.
// Keys are ECDSA P-256: made in microseconds, where RSA needs tens of ms.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	p := &PKI{dir: t.TempDir()}

	// CA, valid since before the expired client certificate was, so that
	// expiry is the only fault a verifier can find with that one
	p.caKey = newECKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "esep testkit CA"},
		NotBefore:             now.Add(-3 * certLifetime),
		NotAfter:              now.Add(certLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der := p.sign(t, tmpl, p.caKey)
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse CA certificate: %v", err)
	}
	p.ca = ca
	p.CAFile = filepath.Join(p.dir, "ca.pem")
	writePEMFile(t, p.CAFile, "CERTIFICATE", der, 0o644)

	// server
	tmpl = leafTemplate("localhost", now, x509.ExtKeyUsageServerAuth)
	tmpl.DNSNames = []string{"localhost"}
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	p.Server = p.issue(t, "server", tmpl)
	return p
}

// ClientCert issues a client certificate with the given common name, which
// a broker with use_identity_as_username takes as the MQTT user name.
func (p *PKI) ClientCert(t testing.TB, commonName string) CertFiles {
	t.Helper()
	tmpl := leafTemplate(commonName, time.Now(), x509.ExtKeyUsageClientAuth)
	return p.issue(t, "client", tmpl)
}

// ExpiredClientCert issues a client certificate that expired a day ago
// but is otherwise as good as one from ClientCert.
func (p *PKI) ExpiredClientCert(t testing.TB, commonName string) CertFiles {
	t.Helper()
	past := time.Now().Add(-2 * certLifetime)
	tmpl := leafTemplate(commonName, past, x509.ExtKeyUsageClientAuth)
	return p.issue(t, "client", tmpl)
}

// ClientTLS returns a client configuration that trusts this PKI's CA and
// presents cert, which may come from another PKI. The zero CertFiles
// gives a client without a certificate.
func (p *PKI) ClientTLS(t testing.TB, cert CertFiles) *tls.Config {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(p.ca)
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert == (CertFiles{}) {
		return cfg
	}

	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatalf("load client certificate %q: %v", cert.CertFile, err)
	}
	cfg.Certificates = []tls.Certificate{pair}
	return cfg
}

// issue signs tmpl with the CA and writes certificate and key as
// <kind>-<n>.pem and <kind>-<n>-key.pem.
func (p *PKI) issue(t testing.TB, kind string, tmpl *x509.Certificate) CertFiles {
	t.Helper()
	key := newECKey(t)
	der := p.sign(t, tmpl, key)

	base := filepath.Join(p.dir, fmt.Sprintf("%s-%d", kind, p.seq.Add(1)))
	files := CertFiles{CertFile: base + ".pem", KeyFile: base + "-key.pem"}
	writePEMFile(t, files.CertFile, "CERTIFICATE", der, 0o644)

	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encode key of %q: %v", tmpl.Subject.CommonName, err)
	}
	writePEMFile(t, files.KeyFile, "PRIVATE KEY", keyDER, 0o600)
	return files
}

// sign makes the DER certificate for tmpl and key, signed by the CA, or
// self-signed while the CA itself is being made.
func (p *PKI) sign(t testing.TB, tmpl *x509.Certificate, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	tmpl.SerialNumber = certSerial(t)
	parent := p.ca
	if parent == nil {
		parent = tmpl
	}

	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatalf("sign certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	return der
}

// leafTemplate is an end-entity certificate for one extended key usage,
// valid for certLifetime from notBefore. It is back-dated an hour so that
// a clock slightly off between test and server cannot make a fresh
// certificate "not yet valid".
func leafTemplate(cn string, notBefore time.Time, use x509.ExtKeyUsage) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		NotBefore:   notBefore.Add(-time.Hour),
		NotAfter:    notBefore.Add(certLifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{use},
	}
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate P-256 key: %v", err)
	}
	return key
}

// certSerial is random, as RFC 5280 section 4.1.2.2 asks: unique per CA
// and at most 20 octets.
func certSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatalf("draw certificate serial number: %v", err)
	}
	return n
}

func writePEMFile(t testing.TB, path, blockType string, der []byte, perm os.FileMode) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	if err := os.WriteFile(path, b, perm); err != nil {
		t.Fatalf("write %s: %v", blockType, err)
	}
}
