package uplink

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/config"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		name     string
		min, max time.Duration
		draw     func(n int64) int64 // the random part
		want     []time.Duration
	}{
		{
			name: "lowest draws", min: time.Second, max: 10 * time.Second,
			draw: func(int64) int64 { return 0 },
			want: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second,
				4 * time.Second, 5 * time.Second, 5 * time.Second},
		},
		{
			name: "highest draws", min: time.Second, max: 10 * time.Second,
			draw: func(n int64) int64 { return n - 1 },
			want: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second,
				8 * time.Second, 10 * time.Second, 10 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackoff(tt.min, tt.max)
			b.rand = tt.draw
			var got []time.Duration
			for range tt.want {
				got = append(got, b.wait())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("waits from %s to %s: got %v, want %v", tt.min, tt.max, got, tt.want)
			}
			b.reset()
			if w := b.wait(); w > tt.min {
				t.Errorf("first wait after reset: got %s, want at most %s", w, tt.min)
			}
		})
	}
}

func TestBackoffJitterStaysInBounds(t *testing.T) {
	b := newBackoff(time.Second, time.Minute)
	for i := range 200 {
		d := b.wait()
		step := min(time.Second<<min(i, 10), time.Minute)
		if d < step/2 || d > step {
			t.Fatalf("wait %d: got %s, want within [%s, %s]", i, d, step/2, step)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	t.Setenv("ESEP_TEST_MQTT_PASSWORD", "s3cret")
	tests := []struct {
		name string
		yaml string
		want string // in the error; empty: valid
	}{
		{name: "plain", yaml: "broker: tcp://127.0.0.1:1883\n"},
		{
			name: "mutual TLS with password",
			yaml: "broker: ssl://mqtt.example.kz:8883\nusername: a\n" +
				"password_env: ESEP_TEST_MQTT_PASSWORD\nca_file: ca.pem\n" +
				"cert_file: a.pem\nkey_file: a-key.pem\nserver_name: mqtt\n",
		},
		{name: "no broker", yaml: "prefix: p\n", want: `broker: "" is not a broker URL`},
		{
			name: "unknown scheme", yaml: "broker: http://127.0.0.1:80\n",
			want: `uplink.yaml:1:1: broker: scheme "http" is not one of`,
		},
		{
			name: "no port", yaml: "broker: tcp://127.0.0.1\n",
			want: `broker: "tcp://127.0.0.1" does not name a host and a port`,
		},
		{
			name: "password without user",
			yaml: "broker: tcp://h:1\npassword_env: ESEP_TEST_MQTT_PASSWORD\n",
			want: "username: must be set with password_env",
		},
		{
			name: "certificate without key", yaml: "broker: ssl://h:1\ncert_file: a.pem\n",
			want: "key_file: cert_file and key_file go together",
		},
		{
			name: "TLS file on a plain broker", yaml: "broker: tcp://h:1\nca_file: ca.pem\n",
			want: `uplink.yaml:2:1: ca_file: is set but broker "tcp://h:1" does not use TLS`,
		},
		{
			name: "keep-alive under a second", yaml: "broker: tcp://h:1\nkeep_alive: 500ms\n",
			want: "keep_alive: 500ms is below the minimum of 1s",
		},
		{
			name: "backoff upside down",
			yaml: "broker: tcp://h:1\nbackoff_min: 1m\nbackoff_max: 10s\n",
			want: "backoff_max: 10s is below backoff_min 1m0s",
		},
		{
			name: "negative window", yaml: "broker: tcp://h:1\nwindow: -1\n",
			want: "window: -1 is not a positive number",
		},
		{
			name: "credentials in the URL", yaml: "broker: tcp://agent:s3cret@h:1883\n",
			want: "uplink.yaml:1:1: broker: holds a user name or password",
		},
		{
			name: "port out of range", yaml: "broker: tcp://h:99999\n",
			want: `uplink.yaml:1:1: broker: "tcp://h:99999" does not name a host and a port 1-65535`,
		},
		{
			name: "prefix with a wildcard", yaml: "broker: tcp://h:1\nprefix: esep/#\n",
			want: "uplink.yaml:2:1: prefix: ",
		},
		{
			name: "unknown key", yaml: "broker: tcp://h:1\nqos: 2\n",
			want: `uplink.yaml:2:1: qos: unknown key "qos"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			err := config.Decode("uplink.yaml", []byte(tt.yaml), &c)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Decode(%q) = %v, want nil", tt.yaml, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Decode(%q) = %v, want an error containing %q", tt.yaml, err, tt.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	if err := config.Decode("uplink.yaml", []byte("broker: tcp://h:1\n"), &c); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Broker: "tcp://h:1", Prefix: "esep", KeepAlive: time.Minute,
		ConnectTimeout: 30 * time.Second, AckTimeout: time.Minute,
		BackoffMin: time.Second, BackoffMax: 2 * time.Minute,
		Window: 8, BatchItems: 50, BatchBytes: 32 << 10,
	}
	if c != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestBatchLen(t *testing.T) {
	rec := func(size int) Record { return Record{Data: make([]byte, size)} }
	tests := []struct {
		name         string
		sizes        []int
		items, bytes int
		want         int
	}{
		{name: "item cap", sizes: []int{10, 10, 10, 10}, items: 3, bytes: 1000, want: 3},
		{name: "byte cap", sizes: []int{10, 10, 10, 10}, items: 10, bytes: 25, want: 2},
		{name: "exact bytes", sizes: []int{10, 10, 10}, items: 10, bytes: 20, want: 2},
		{name: "one too large goes alone", sizes: []int{99, 1}, items: 10, bytes: 10, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var recs []Record
			for _, s := range tt.sizes {
				recs = append(recs, rec(s))
			}
			if got := batchLen(recs, tt.items, tt.bytes); got != tt.want {
				t.Errorf("batchLen(sizes %v, %d items, %d bytes) = %d, want %d",
					tt.sizes, tt.items, tt.bytes, got, tt.want)
			}
		})
	}
}

func TestSameKind(t *testing.T) {
	r, e := Record{Kind: KindReading}, Record{Kind: KindEvent}
	tests := []struct {
		name string
		recs []Record
		want int
	}{
		{name: "one", recs: []Record{r}, want: 1},
		{name: "run then change", recs: []Record{r, r, e, r}, want: 2},
		{name: "events", recs: []Record{e, e, e}, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(sameKind(tt.recs)); got != tt.want {
				t.Errorf("sameKind of %d records = %d, want %d", len(tt.recs), got, tt.want)
			}
		})
	}
}

func TestThrottle(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at             time.Duration
		msg            string
		wantOK         bool
		wantSuppressed int
	}{
		{at: 0, msg: "refused", wantOK: true},
		{at: time.Minute, msg: "refused"},
		{at: 2 * time.Minute, msg: "refused"},
		{at: 3 * time.Minute, msg: "not authorized", wantOK: true, wantSuppressed: 2},
		{at: 4 * time.Minute, msg: "not authorized"},
		{at: 9 * time.Minute, msg: "not authorized", wantOK: true, wantSuppressed: 1},
		{at: 8 * time.Minute, msg: "not authorized", wantOK: true}, // clock stepped back
	}
	var th throttle
	for _, s := range steps {
		n, ok := th.allow(t0.Add(s.at), 5*time.Minute, s.msg)
		if ok != s.wantOK || n != s.wantSuppressed {
			t.Errorf("allow(+%s, %q) = %d, %t; want %d, %t",
				s.at, s.msg, n, ok, s.wantSuppressed, s.wantOK)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	good := Config{Broker: "tcp://127.0.0.1:1"}
	tests := []struct {
		name  string
		agent string
		cfg   Config
		src   Source
		opts  Options
		want  string
	}{
		{name: "agent with slash", agent: "a/b", cfg: good, src: newMemSource(),
			want: `cannot use agent ID "a/b" in topics`},
		{name: "no source", agent: "a", cfg: good,
			want: "cannot create the uplink without a source"},
		{name: "version not printable", agent: "a", cfg: good, src: newMemSource(),
			opts: Options{Version: "v1\n"}, want: `cannot create the uplink of agent "a"`},
		{name: "bad config", agent: "a", cfg: Config{Broker: "tcp://x"}, src: newMemSource(),
			opts: testOptions(nil), want: `broker: "tcp://x" does not name a host and a port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(t.Context(), tt.agent, tt.cfg, tt.src, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%q, %+v) = %v, want an error containing %q",
					tt.agent, tt.cfg, err, tt.want)
			}
		})
	}
}
