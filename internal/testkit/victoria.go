package testkit

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// victoriaMaxFuture is how far ahead of the clock VictoriaMetrics 1.79
// accepts a sample; later ones are dropped with only a warning in its log
// while the write still answers 204 (lib/storage/storage.go of v1.79).
const victoriaMaxFuture = 2 * 24 * time.Hour

// Victoria is a single-node VictoriaMetrics server run for one test. It
// accepts the InfluxDB v2 write API at URL()+"/api/v2/write" and names
// each series measurement_field, with the tags as labels.
type Victoria struct {
	proc *Process
	url  string
}

// Series is one time series as /api/v1/export returns it: the labels,
// with the metric name under "__name__", and its samples in time order,
// timestamps in Unix milliseconds.
type Series struct {
	Metric     map[string]string `json:"metric"`
	Values     []float64         `json:"values"`
	Timestamps []int64           `json:"timestamps"`
}

// StartVictoria runs /usr/bin/victoria-metrics on a free loopback port
// with its data in the test's temporary directory and waits until it
// answers /health. The server is killed when the test ends.
func StartVictoria(t testing.TB) *Victoria {
	t.Helper()
	bin := LookBinary(t, "victoria-metrics", "victoria-metrics")
	dir := t.TempDir()

	var v *Victoria
	err := onFreePort(t, func(port int) error {
		addr := "127.0.0.1:" + strconv.Itoa(port)
		v = &Victoria{
			proc: NewProcess(t, bin, victoriaArgs(addr, dir)...),
			url:  "http://" + addr,
		}
		return v.Start()
	})
	if err != nil {
		t.Fatalf("start VictoriaMetrics: %v", err)
	}
	return v
}

func victoriaArgs(addr, dir string) []string {
	return []string{
		"-httpListenAddr=" + addr,
		"-storageDataPath=" + dir,
		// Tests write meter readings from years ago; samples older than
		// the retention are dropped silently. 100 years reach back to 1970.
		"-retentionPeriod=100y",
		// By default a query hides the last 30 s as possibly incomplete,
		// which would hide what a test has just written.
		"-search.latencyOffset=0s",
		// Tests read back right after writing; a cached answer from an
		// earlier query would miss the new samples.
		"-search.disableCache",
		"-loggerLevel=WARN",
		// A redelivered reading writes the same line again; without
		// deduplication VictoriaMetrics keeps both samples, and the
		// ingestor's exactly-once tests would count the copy. Production
		// runs with the same flag (docs/tsdb.md).
		"-dedup.minScrapeInterval=1ms",
	}
}

// URL returns the server's base address, http://127.0.0.1:port, which is
// what the influxdb-client-go v2 client takes as its server URL.
func (v *Victoria) URL() string {
	return v.url
}

// Start runs the server again after Stop or Kill, on the same port and
// with the same data, and waits until it answers /health.
func (v *Victoria) Start() error {
	return v.proc.startAndWait(v.healthy)
}

// Stop shuts the server down cleanly, as a service manager would; it
// flushes what it holds in memory first.
func (v *Victoria) Stop() {
	v.proc.Stop()
}

// Kill ends the server at once, as a power cut would. VictoriaMetrics
// 1.79 keeps new samples in memory for about five seconds before writing
// them to disk, and Flush does not shorten that, so a sample written
// within the last five seconds may be gone after Kill and Start even
// though its write was acknowledged.
func (v *Victoria) Kill() {
	v.proc.Kill()
}

// healthy asks /health once, as startAndWait expects.
func (v *Victoria) healthy(ctx context.Context) error {
	_, err := v.get(ctx, "/health", nil)
	return err
}

// Flush makes every sample written so far visible to queries. Without it
// new samples show up only after the server's own flush, about a second
// later. It makes them searchable, not durable: see Kill.
func (v *Victoria) Flush(ctx context.Context) error {
	if _, err := v.get(ctx, "/internal/force_flush", nil); err != nil {
		return fmt.Errorf("flush VictoriaMetrics: %w", err)
	}
	return nil
}

// Export flushes and returns every sample of the series matching the
// selector match, e.g. `energy_kwh{meter="m1"}`, sorted by labels. It
// covers all time from 1970 to the latest timestamp the server accepts.
func (v *Victoria) Export(ctx context.Context, match string) ([]Series, error) {
	if err := v.Flush(ctx); err != nil {
		return nil, err
	}

	end := time.Now().Add(victoriaMaxFuture + time.Hour)
	q := url.Values{
		"match[]": {match},
		"start":   {"0"},
		"end":     {strconv.FormatInt(end.Unix(), 10)},
	}
	body, err := v.get(ctx, "/api/v1/export", q)
	if err != nil {
		return nil, fmt.Errorf("export %q: %w", match, err)
	}

	var all []Series
	dec := json.NewDecoder(strings.NewReader(body))
	for dec.More() {
		var s Series
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("decode export of %q: %w", match, err)
		}
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b Series) int {
		return cmp.Compare(labelKey(a.Metric), labelKey(b.Metric))
	})
	return all, nil
}

// Count returns how many samples the series matching match hold in all.
func (v *Victoria) Count(ctx context.Context, match string) (int, error) {
	all, err := v.Export(ctx, match)
	n := 0
	for _, s := range all {
		n += len(s.Values)
	}
	return n, err
}

// get fetches path with query q once and returns the body of a 200 answer.
func (v *Victoria) get(ctx context.Context, path string, q url.Values) (string, error) {
	u := v.url + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("build request for %q: %w", path, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("get %q: %w", path, err)
	}
	defer resp.Body.Close()

	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("read answer of %q: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("get %q: %s: %s", path, resp.Status, b)
	}
	return string(b), nil
}

// labelKey renders labels in a fixed order, so that series sort stably.
func labelKey(m map[string]string) string {
	var b strings.Builder
	b.WriteString(m["__name__"])
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "\x00%s=%s", k, m[k])
	}
	return b.String()
}
