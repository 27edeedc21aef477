package uplink

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"
)

// tlsConfig reads the CA and the client certificate for one connection
// attempt; it returns nil for a plain broker. Reading the files anew on
// each attempt lets a renewed certificate take effect without a restart.
func (c *Config) tlsConfig(now time.Time) (*tls.Config, error) {
	if !c.secure() {
		return nil, nil
	}
	// An empty ServerName makes tls.Dialer take the broker's host.
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}

	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cannot find a PEM certificate in CA file %q", c.CAFile)
		}
	}

	if c.CertFile != "" {
		cert, err := loadClientCert(c.CertFile, c.KeyFile, now)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// loadClientCert reads a certificate and its key and checks that the
// certificate is valid at now. An expired certificate is caught here
// because the broker's refusal is a bare TLS alert, and under TLS 1.3 it
// often arrives as a reset instead (RFC 8446 section 4.4.2.4): the
// engineer would see "connection reset" rather than the cause.
func loadClientCert(certFile, keyFile string, now time.Time) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return cert, fmt.Errorf("cannot load client certificate %q: %w", certFile, err)
	}

	// LoadX509KeyPair fills Leaf since Go 1.23.
	leaf := cert.Leaf
	switch {
	case now.After(leaf.NotAfter):
		return cert, fmt.Errorf("%w: %q expired on %s", ErrCertExpired, certFile,
			leaf.NotAfter.UTC().Format(time.DateTime+" MST"))
	case now.Before(leaf.NotBefore):
		return cert, fmt.Errorf("%w: %q is valid from %s", ErrCertExpired, certFile,
			leaf.NotBefore.UTC().Format(time.DateTime+" MST"))
	}
	return cert, nil
}
