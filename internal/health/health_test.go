package health

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// serve starts s on a free loopback port for the test and returns its
// base URL.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ln, err := Listen(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, s.Handler(), zerolog.Nop()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestHealthz(t *testing.T) {
	tests := []struct {
		name     string
		checks   map[string]Check
		wantCode int
		want     Report
	}{
		{"no checks", nil, http.StatusOK, Report{Status: "ok", Checks: map[string]string{}}},
		{"all pass", map[string]Check{"spool": func() error { return nil }},
			http.StatusOK, Report{Status: "ok", Checks: map[string]string{"spool": "ok"}}},
		{"one fails", map[string]Check{
			"spool":  func() error { return nil },
			"uplink": func() error { return errors.New("broker unreachable for 2h0m0s") },
		}, http.StatusServiceUnavailable, Report{Status: "failing", Checks: map[string]string{
			"spool": "ok", "uplink": "broker unreachable for 2h0m0s"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New()
			for n, c := range tt.checks {
				s.AddCheck(n, c)
			}
			code, body := get(t, serve(t, s)+"/healthz")
			var got Report
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if code != tt.wantCode || got.Status != tt.want.Status ||
				len(got.Checks) != len(tt.want.Checks) {
				t.Fatalf("GET /healthz = %d %+v, want %d %+v", code, got, tt.wantCode, tt.want)
			}
			for n, v := range tt.want.Checks {
				if got.Checks[n] != v {
					t.Errorf("check %q = %q, want %q", n, got.Checks[n], v)
				}
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	s := New()
	polls := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "esep_test_polls_total",
		Help: "Polls by result."}, []string{"result"})
	s.Registry.MustRegister(polls)
	polls.WithLabelValues("ok").Add(3)

	code, body := get(t, serve(t, s)+"/metrics")
	for _, want := range []string{`esep_test_polls_total{result="ok"} 3`, "go_goroutines",
		"process_resident_memory_bytes"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET /metrics = %d, body lacks %q", code, want)
		}
	}
}

func TestListenTaken(t *testing.T) {
	ln, err := Listen(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Listen(t.Context(), ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("Listen on a taken port = %v, want an error naming the address", err)
	}
}

func TestServeStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	ln, err := Listen(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, New().Handler(), zerolog.Nop()) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
}
