package uplink

import (
	"context"
	"crypto/tls"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/internal/config"
	"github.com/esep-kz/esep/internal/testkit"
	"github.com/esep-kz/esep/internal/wire"
)

// testAgent is the agent ID of every test uplink.
const testAgent = "agent-1"

// wait bounds each wait for something a test expects; a local broker
// delivers in milliseconds, so only a broken uplink takes this long.
const wait = 30 * time.Second

// testOptions are the default Options, wire's encoders included, with a
// logger into buf when it is not nil.
func testOptions(buf *syncBuffer) Options {
	var o Options
	if buf != nil {
		o.Log = zerolog.New(buf)
	}
	return o
}

// testConfig is a Config for broker with waits short enough for tests.
func testConfig(m *testkit.Mosquitto) Config {
	return Config{
		Broker:         m.URL(),
		ConnectTimeout: 5 * time.Second,
		AckTimeout:     10 * time.Second,
		BackoffMin:     20 * time.Millisecond,
		BackoffMax:     200 * time.Millisecond,
	}
}

// runUplink starts Run and returns a function that stops it and checks
// that it returned nil in time; it is also called when the test ends.
func runUplink(t testing.TB, c Config, src Source, o Options) (*Uplink, func()) {
	t.Helper()
	u, err := New(t.Context(), testAgent, c, src, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()

	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(wait):
				t.Errorf("Run did not return %s after cancel", wait)
			}
		})
	}
	t.Cleanup(stop)
	return u, stop
}

// waitFor polls cond until it holds, and fails the test after wait.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %s for %s", wait, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// message is one message a subscriber received, in arrival order.
type message struct {
	topic    string
	payload  []byte
	retained bool
	seqs     []uint64 // of a batch
}

// subscriber is a test's view of the centre: its own paho client with a
// persistent session, subscribed at QoS 1 to everything of the agent.
type subscriber struct {
	t      testing.TB
	client mqtt.Client
	topics wire.TopicSet

	mu   sync.Mutex
	msgs []message
	seen map[uint64]int // deliveries per Seq on the batch topics
}

// subSpec says how a subscriber logs in.
type subSpec struct {
	user, password string
	tls            *tls.Config
}

func newSubscriber(t testing.TB, m *testkit.Mosquitto, spec subSpec) *subscriber {
	t.Helper()
	s := &subscriber{t: t, topics: wire.Topics(wire.DefaultPrefix, testAgent),
		seen: map[uint64]int{}}
	o := mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("centre").
		SetUsername(spec.user).SetPassword(spec.password).SetTLSConfig(spec.tls).
		SetCleanSession(false).SetProtocolVersion(4).
		SetAutoReconnect(true).SetMaxReconnectInterval(100 * time.Millisecond).
		SetConnectTimeout(5 * time.Second).
		SetDefaultPublishHandler(func(_ mqtt.Client, msg mqtt.Message) { s.take(msg) })
	s.client = mqtt.NewClient(o)
	awaitToken(t, s.client.Connect(), "connect the subscriber")
	t.Cleanup(func() { s.client.Disconnect(0) })

	filter := wire.DefaultPrefix + "/v1/" + testAgent + "/+"
	awaitToken(t, s.client.Subscribe(filter, 1, nil), "subscribe to "+filter)
	return s
}

// take records a message; batches must decode.
func (s *subscriber) take(msg mqtt.Message) {
	got := message{topic: msg.Topic(), payload: msg.Payload(), retained: msg.Retained()}
	seqs, err := batchSeqs(got.topic, got.payload, s.topics)
	if err != nil {
		s.t.Errorf("batch on %s does not decode: %v", got.topic, err)
	}
	got.seqs = seqs
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, got)
	for _, q := range got.seqs {
		s.seen[q]++
	}
}

// batchSeqs decodes a batch as the ingestor would and returns its Seqs;
// it returns none for a message on another topic.
func batchSeqs(topic string, body []byte, ts wire.TopicSet) ([]uint64, error) {
	var seqs []uint64
	switch topic {
	case ts.Readings:
		b, err := wire.DecodeReadings(body)
		for _, it := range b.Readings {
			seqs = append(seqs, it.Seq)
		}
		return seqs, err
	case ts.Events:
		b, err := wire.DecodeEvents(body)
		for _, it := range b.Events {
			seqs = append(seqs, it.Seq)
		}
		return seqs, err
	}
	return nil, nil
}

// messages returns a copy of what arrived, from index from on.
func (s *subscriber) messages(from int) []message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]message(nil), s.msgs[from:]...)
}

// distinct is how many different Seqs arrived in batches.
func (s *subscriber) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// missing lists the Seqs in 1..n that never arrived, at most ten.
func (s *subscriber) missing(n int) []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint64
	for q := uint64(1); q <= uint64(n) && len(out) < 10; q++ {
		if s.seen[q] == 0 {
			out = append(out, q)
		}
	}
	return out
}

// batchSeqs returns the Seqs of every batch that arrived, in order.
func (s *subscriber) batchSeqs() []uint64 {
	var out []uint64
	for _, m := range s.messages(0) {
		out = append(out, m.seqs...)
	}
	return out
}

// states returns the status messages that arrived, as their states,
// with "+started" added to those that say when the agent started.
func (s *subscriber) states() []string {
	var out []string
	for _, m := range s.messages(0) {
		if m.topic != s.topics.Status {
			continue
		}
		st, err := wire.DecodeStatus(m.payload)
		if err != nil {
			s.t.Errorf("status %q does not decode: %v", m.payload, err)
		}
		if !st.Started.IsZero() {
			st.State += "+started"
		}
		out = append(out, st.State)
	}
	return out
}

func awaitToken(t testing.TB, tok mqtt.Token, what string) {
	t.Helper()
	if !tok.WaitTimeout(wait) {
		t.Fatalf("%s: no answer after %s", what, wait)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// secret makes a config.Secret holding value, as the agent's file would
// from the environment.
func secret(t *testing.T, value string) config.Secret {
	t.Helper()
	t.Setenv("ESEP_TEST_MQTT_PASSWORD", value)
	var c Config
	yaml := "broker: tcp://127.0.0.1:1883\nusername: u\npassword_env: ESEP_TEST_MQTT_PASSWORD\n"
	if err := config.Decode("uplink.yaml", []byte(yaml), &c); err != nil {
		t.Fatalf("decode a secret: %v", err)
	}
	return c.Password
}

// syncBuffer is a log destination that goroutines may share.
type syncBuffer struct{ testkit.SyncBuffer }

// lines returns the logged lines that contain s.
func (b *syncBuffer) lines(s string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}
