package uplink

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/testkit"
)

// TestConnectErrors gives the uplink a credential the broker refuses.
// Each gives one clear error naming the broker and the cause, logged
// once however often it is retried; Run goes on retrying, and where the
// fix is a file the uplink reads again, it delivers once the file is
// right.
func TestConnectErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) (*testkit.Mosquitto, Config, subSpec)
		want  error
		text  string // in the error, after the broker's name
		// fix repairs the configuration's files; nil when the fix is
		// elsewhere (a password is read once, from the environment).
		fix func(t *testing.T, m *testkit.Mosquitto, c Config)
	}{
		{
			name:  "wrong CA",
			setup: wrongCA,
			want:  ErrUnknownAuthority,
			text:  "certificate signed by unknown authority",
			fix: func(t *testing.T, m *testkit.Mosquitto, c Config) {
				copyFile(t, m.PKI.CAFile, c.CAFile)
			},
		},
		{
			name:  "expired client certificate",
			setup: expiredCert,
			want:  ErrCertExpired,
			text:  "client certificate not valid now: ",
			fix: func(t *testing.T, m *testkit.Mosquitto, c Config) {
				good := m.PKI.ClientCert(t, testAgent)
				copyFile(t, good.CertFile, c.CertFile)
				copyFile(t, good.KeyFile, c.KeyFile)
			},
		},
		{
			name:  "bad password",
			setup: badPassword,
			want:  ErrNotAuthorized,
			text: `as user "agent-1" with the password from $ESEP_TEST_MQTT_PASSWORD: ` +
				"not authorized",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, c, spec := tt.setup(t)
			sub := newSubscriber(t, m, spec)
			src := newMemSource()
			src.add(t, KindReading, 20)
			var logs syncBuffer
			o := testOptions(&logs)
			o.LogEvery = time.Hour
			u, _ := runUplink(t, c, src, o)

			waitFor(t, "five failed attempts", func() bool { return u.Status().Failures >= 5 })
			st := u.Status()
			prefix := `cannot connect to broker "` + m.URL() + `"`
			if st.Connected || !errors.Is(st.LastError, tt.want) ||
				!containsAll(st.LastError.Error(), prefix, tt.text) {
				t.Fatalf("status: connected %t, error %v;\nwant false and %q with %q",
					st.Connected, st.LastError, prefix, tt.text)
			}
			t.Logf("error after %d attempts: %v", st.Failures, st.LastError)
			if n := len(logs.lines("uplink is down")); n != 1 {
				t.Errorf("got %d log lines about %d failures, want 1", n, st.Failures)
			}
			if tt.fix == nil {
				return
			}

			tt.fix(t, m, c)
			waitFor(t, "delivery after the fix", func() bool {
				return src.allAcked() && sub.distinct() == 20
			})
		})
	}
}

// wrongCA trusts a CA that did not sign the broker's certificate.
func wrongCA(t *testing.T) (*testkit.Mosquitto, Config, subSpec) {
	m := testkit.StartMosquitto(t, testkit.MosquittoOptions{TLS: true})
	c := testConfig(m)
	c.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	copyFile(t, testkit.NewPKI(t).CAFile, c.CAFile)
	cert := m.PKI.ClientCert(t, testAgent)
	c.CertFile, c.KeyFile = cert.CertFile, cert.KeyFile
	return m, c, tlsSub(t, m)
}

// expiredCert presents a client certificate that expired yesterday.
func expiredCert(t *testing.T) (*testkit.Mosquitto, Config, subSpec) {
	m := testkit.StartMosquitto(t, testkit.MosquittoOptions{TLS: true})
	c := testConfig(m)
	c.CAFile = m.PKI.CAFile
	dir := t.TempDir()
	c.CertFile, c.KeyFile = filepath.Join(dir, "agent.pem"), filepath.Join(dir, "agent-key.pem")
	expired := m.PKI.ExpiredClientCert(t, testAgent)
	copyFile(t, expired.CertFile, c.CertFile)
	copyFile(t, expired.KeyFile, c.KeyFile)
	return m, c, tlsSub(t, m)
}

// badPassword logs in with a password the broker does not know.
func badPassword(t *testing.T) (*testkit.Mosquitto, Config, subSpec) {
	m := testkit.StartMosquitto(t, testkit.MosquittoOptions{
		Users: map[string]string{testAgent: "right", "centre": "c-pass"},
	})
	c := testConfig(m)
	c.Username, c.Password = testAgent, secret(t, "wrong")
	return m, c, subSpec{user: "centre", password: "c-pass"}
}

func tlsSub(t *testing.T, m *testkit.Mosquitto) subSpec {
	return subSpec{tls: m.PKI.ClientTLS(t, m.PKI.ClientCert(t, "centre"))}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
