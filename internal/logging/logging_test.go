package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
		logged  bool // whether an info line is written
	}{
		{name: "defaults", opts: Options{}, logged: true},
		{name: "debug json", opts: Options{Level: "debug", Format: FormatJSON}, logged: true},
		{name: "warn hides info", opts: Options{Level: "warn"}, logged: false},
		{name: "bad level", opts: Options{Level: "loud"}, wantErr: `log level "loud"`},
		{name: "bad format", opts: Options{Format: "xml"}, wantErr: `log format "xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := New(&buf, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%+v) error = %v, want %q", tt.opts, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%+v): %v", tt.opts, err)
			}

			log.Info().Str(Meter, "m1").Msg("polled")
			if got := buf.Len() > 0; got != tt.logged {
				t.Fatalf("logged = %v, want %v (%q)", got, tt.logged, buf.String())
			}
			if !tt.logged {
				return
			}
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("not JSON off a terminal: %q: %v", buf.String(), err)
			}
			if line[Meter] != "m1" || line["message"] != "polled" {
				t.Errorf("line = %v", line)
			}
			if ts, _ := line["time"].(string); !strings.HasSuffix(ts, "Z") {
				t.Errorf("time %q is not UTC", ts)
			}
		})
	}
}

func TestConsoleFormat(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, Options{Format: FormatConsole})
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Str(Bus, "rs485-1").Msg("bus opened")
	out := buf.String()
	if strings.HasPrefix(out, "{") || !strings.Contains(out, "bus opened") {
		t.Errorf("console output = %q", out)
	}
}

// TestNewConcurrent makes loggers from several goroutines at once, as
// tests that run commands in parallel do; -race reports any shared write.
func TestNewConcurrent(t *testing.T) {
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			var buf bytes.Buffer
			log, err := New(&buf, Options{Format: FormatJSON})
			if err != nil {
				t.Error(err)
				return
			}
			log.Info().Msg("x")
		}()
	}
	for range 4 {
		<-done
	}
}
