// Package health serves a binary's local health endpoints: /healthz,
// which a supervisor or an engineer at the box asks whether the process
// does its job, and /metrics, which Prometheus scrapes. Both listen on
// an address of the operator's choosing, usually loopback: they say how
// the agent fares, never what the meters read.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/internal/logging"
)

// Check reports whether one part works: nil when it does, else why not,
// in words for the person reading /healthz.
type Check func() error

// Server holds the checks and the metrics registry behind the endpoints.
// It is safe for concurrent use.
type Server struct {
	// Registry is where the binary registers its collectors; it starts
	// with the Go runtime's and the process's own.
	Registry *prometheus.Registry

	mu     sync.Mutex
	checks map[string]Check
}

// New returns a Server with no checks and a registry holding the Go and
// process collectors.
func New() *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Server{Registry: reg, checks: map[string]Check{}}
}

// AddCheck adds or replaces the check of the part called name.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// Report is the body of /healthz: "ok" when every check passed, else
// "failing", and each check's result by name.
type Report struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// Report runs every check.
func (s *Server) Report() Report {
	s.mu.Lock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	sort.Strings(names)
	checks := make([]Check, len(names))
	for i, n := range names {
		checks[i] = s.checks[n]
	}
	s.mu.Unlock()

	r := Report{Status: "ok", Checks: map[string]string{}}
	for i, c := range checks {
		r.Checks[names[i]] = "ok"
		if err := c(); err != nil {
			r.Status, r.Checks[names[i]] = "failing", err.Error()
		}
	}
	return r
}

// Handler serves /healthz (200 when every check passes, 503 otherwise,
// with the Report as JSON) and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	r := s.Report()
	w.Header().Set("Content-Type", "application/json")
	if r.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(r) // the client went away: nothing to do
}

// shutdownGrace bounds how long a stopping server waits for scrapes in
// flight; they are small and local.
const shutdownGrace = 2 * time.Second

// Listen opens addr for the health endpoint. It fails at once, naming
// addr, when the port is taken, so that a start-up stops rather than
// running without the endpoint unnoticed.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen for health on %q: %w", addr, err)
	}
	return ln, nil
}

// Serve serves h on ln until ctx ends, then closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log zerolog.Logger) error {
	addr := ln.Addr().String()
	log.Info().Str(logging.Addr, addr).Msg("health endpoint listening")

	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	select {
	case err := <-done:
		return fmt.Errorf("health endpoint on %q: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("stop health endpoint on %q: %w", addr, err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("health endpoint on %q: %w", addr, err)
	}
	return nil
}
