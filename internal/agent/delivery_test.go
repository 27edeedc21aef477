package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

	"github.com/esep-kz/esep/internal/testkit"
	"github.com/esep-kz/esep/internal/wire"
)

// received is what a test subscriber got from the agent's topics.
type received struct {
	mu       sync.Mutex
	seqs     map[uint64]int         // readings' seqs, and how often each came
	byMeter  map[string][]time.Time // readings' times by meter, in arrival order
	statuses []string
	inv      *wire.Inventory
	bad      []error
}

func (r *received) take(topics wire.TopicSet, m mqtt.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch m.Topic() {
	case topics.Readings:
		b, err := wire.DecodeReadings(m.Payload())
		if err != nil {
			r.bad = append(r.bad, err)
			return
		}
		for _, it := range b.Readings {
			r.seqs[it.Seq]++
			r.byMeter[it.Meter] = append(r.byMeter[it.Meter], it.Time)
		}
	case topics.Status:
		st, err := wire.DecodeStatus(m.Payload())
		if err != nil {
			r.bad = append(r.bad, err)
			return
		}
		r.statuses = append(r.statuses, st.State)
	case topics.Inventory:
		inv, err := wire.DecodeInventory(m.Payload())
		if err != nil {
			r.bad = append(r.bad, err)
			return
		}
		r.inv = &inv
	}
}

// readings returns how many distinct readings came, per meter too.
func (r *received) readings() (total int, perMeter map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	perMeter = map[string]int{}
	for m, ts := range r.byMeter {
		perMeter[m] = len(ts)
	}
	return len(r.seqs), perMeter
}

func subscribe(t *testing.T, broker *testkit.Mosquitto, topics wire.TopicSet) *received {
	t.Helper()
	r := &received{seqs: map[uint64]int{}, byMeter: map[string][]time.Time{}}
	o := mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("test-centre").
		SetCleanSession(false)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	filter := strings.TrimSuffix(topics.Readings, "readings") + "#"
	tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { r.take(topics, m) })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return r
}

// agentWithUplink writes a configuration of two meters on modbus, polled
// every second, with an uplink to broker and the health endpoint at
// health, and loads it.
func agentWithUplink(t *testing.T, modbus, broker, health, stateDir string) *Config {
	t.Helper()
	body := fmt.Sprintf(`agent: {id: bldg-1, state_dir: %s}
buses:
  - {name: gw, transport: tcp, address: %s, timeout: 500ms}
meters:
  - {id: apt-1, bus: gw, slave: 1, profile: eastron-sdm120, interval: 1s}
  - {id: apt-2, bus: gw, slave: 2, profile: eastron-sdm120, interval: 1s}
uplink: {broker: %s, backoff_min: 50ms, backoff_max: 200ms}
health: {listen: %s}
`, stateDir, modbus, broker, health)
	return loadConfigText(t, body)
}

// runAgent runs the agent until stop is called, which checks that Run
// returned nil.
func runAgent(t *testing.T, c *Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, c, io.Discard, zerolog.New(zerolog.NewTestWriter(t))) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return within 30s of its context's end")
		}
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAgentPublishes runs the agent against a pymodbus gateway and a
// Mosquitto broker: readings of both meters arrive, the birth and
// inventory are retained, the health endpoint reports the polls, and a
// stop says offline.
func TestAgentPublishes(t *testing.T) {
	broker := testkit.StartMosquitto(t, testkit.MosquittoOptions{})
	mb := testkit.StartModbusTCP(t, testkit.RegisterMap{1: sdmUnit(1111, sdmPoints),
		2: sdmUnit(2222, sdmPoints)})
	health := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	c := agentWithUplink(t, mb.Addr(), broker.URL(), health, t.TempDir())
	got := subscribe(t, broker, wire.Topics("esep", "bldg-1"))

	stop := runAgent(t, c)
	waitFor(t, "three readings of each meter", 30*time.Second, func() bool {
		_, per := got.readings()
		return per["apt-1"] >= 3 && per["apt-2"] >= 3
	})
	code, body := httpGet(t, "http://"+health+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `esep_agent_polls_total{meter="apt-1",result="ok"}`) ||
		!strings.Contains(body, "esep_agent_uplink_connected 1") {
		t.Errorf("GET /metrics = %d, lacks the polls or the uplink:\n%.2000s", code, body)
	}
	if code, body := httpGet(t, "http://"+health+"/healthz"); code != http.StatusOK {
		t.Errorf("GET /healthz = %d %s, want 200", code, body)
	}
	stop()

	got.mu.Lock()
	defer got.mu.Unlock()
	if len(got.bad) > 0 {
		t.Errorf("undecodable messages: %v", got.bad)
	}
	if got.inv == nil || len(got.inv.Meters) != 2 || got.inv.Meters[0].Serial == "" {
		t.Errorf("inventory %+v, want both meters", got.inv)
	}
	if n := len(got.statuses); n < 2 || got.statuses[0] != "online" || got.statuses[n-1] != "offline" {
		t.Errorf("statuses %q, want online first and offline last", got.statuses)
	}
}

// TestAgentBrokerDownWholeRun polls with the broker down for a whole run
// of the agent, then starts the agent again with the broker back: every
// reading of the first run arrives, none missing, each meter's in order.
func TestAgentBrokerDownWholeRun(t *testing.T) {
	broker := testkit.StartMosquitto(t, testkit.MosquittoOptions{})
	mb := testkit.StartModbusTCP(t, testkit.RegisterMap{1: sdmUnit(1111, sdmPoints),
		2: sdmUnit(2222, sdmPoints)})
	state := t.TempDir()
	health := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	c := agentWithUplink(t, mb.Addr(), broker.URL(), health, state)

	broker.Stop()
	stop := runAgent(t, c)
	time.Sleep(4 * time.Second) // four slots of each meter, spooled
	stop()

	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	got := subscribe(t, broker, wire.Topics("esep", "bldg-1"))
	stop = runAgent(t, agentWithUplink(t, mb.Addr(), broker.URL(), health, state))
	waitFor(t, "the first run's readings", 30*time.Second, func() bool {
		_, per := got.readings()
		return per["apt-1"] >= 6 && per["apt-2"] >= 6
	})
	stop()

	got.mu.Lock()
	defer got.mu.Unlock()
	var seqs []uint64
	for s := range got.seqs {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	for i, s := range seqs {
		if s != seqs[0]+uint64(i) {
			t.Fatalf("reading seqs have a gap at %d: %v", s, seqs)
		}
	}
	for m, ts := range got.byMeter {
		if !slices.IsSortedFunc(ts, func(a, b time.Time) int { return a.Compare(b) }) {
			t.Errorf("meter %s readings out of order: %v", m, ts)
		}
	}
}

// TestAgentKeepsPollingWhenRefused runs the agent against a broker that
// refuses its password: it keeps polling and spooling, and its metrics
// show the readings waiting and the uplink down.
func TestAgentKeepsPollingWhenRefused(t *testing.T) {
	broker := testkit.StartMosquitto(t, testkit.MosquittoOptions{
		Users: map[string]string{"bldg-1": "right"}})
	mb := testkit.StartModbusTCP(t, testkit.RegisterMap{1: sdmUnit(1111, sdmPoints),
		2: sdmUnit(2222, sdmPoints)})
	t.Setenv("ESEP_TEST_MQTT_PASSWORD", "wrong")
	health := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	c := agentWithUplink(t, mb.Addr(), broker.URL(), health, t.TempDir())
	c.Uplink.Username = "bldg-1"
	if err := c.Uplink.Password.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode,
		Value: "ESEP_TEST_MQTT_PASSWORD"}); err != nil {
		t.Fatal(err)
	}

	stop := runAgent(t, c)
	defer stop()
	waitFor(t, "readings waiting in the spool", 30*time.Second, func() bool {
		resp, err := http.Get("http://" + health + "/metrics")
		if err != nil {
			return false // not listening yet
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body := string(b)
		return strings.Contains(body, "esep_agent_uplink_connected 0") &&
			metricAtLeast(body, "esep_agent_spool_pending_records", 6) &&
			strings.Contains(body, `esep_agent_polls_total{meter="apt-2",result="ok"}`)
	})
}

// metricAtLeast reports whether the unlabelled metric name is at least
// want in the Prometheus text body.
func metricAtLeast(body, name string, want float64) bool {
	for _, l := range strings.Split(body, "\n") {
		var v float64
		if _, err := fmt.Sscanf(l, name+" %g", &v); err == nil {
			return v >= want
		}
	}
	return false
}
