package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type bus struct {
	Name string `yaml:"name"`
	Baud int    `yaml:"baud"`
}

type sample struct {
	ID       string        `yaml:"id"`
	Interval time.Duration `yaml:"interval"`
	Buses    []bus         `yaml:"buses"`
	Password Secret        `yaml:"password_env"`
}

func (s *sample) Validate(c *Checker) {
	if s.ID == "" {
		c.Errorf("id", "must be set")
	}
	for i, b := range s.Buses {
		if b.Baud != 9600 && b.Baud != 19200 {
			c.Errorf(fmt.Sprintf("buses[%d].baud", i), "%d is not one of 9600, 19200", b.Baud)
		}
	}
}

func TestDecode(t *testing.T) {
	t.Setenv("ESEP_TEST_SECRET", "s3cret")
	tests := []struct {
		name string
		yaml string
		want string // substring of the error; empty means success
	}{
		{
			name: "valid",
			yaml: "id: a1\ninterval: 15m\nbuses:\n  - name: b\n    baud: 9600\n",
		},
		{
			name: "unknown key names its line",
			yaml: "id: a1\nbaud_rate: 9600\n",
			want: "agent.yaml:2: field baud_rate not found",
		},
		{
			name: "nested unknown key",
			yaml: "id: a1\nbuses:\n  - name: b\n    parity: E\n",
			want: "agent.yaml:4: field parity not found",
		},
		{
			name: "wrong type",
			yaml: "id: a1\nbuses:\n  - name: b\n    baud: fast\n",
			want: "agent.yaml:4: cannot unmarshal !!str `fast` into int",
		},
		{
			name: "validation names line column and field",
			yaml: "id: a1\nbuses:\n  - name: b\n    baud: 9600\n  - name: c\n    baud: 12345\n",
			want: "agent.yaml:6:5: buses[1].baud: 12345 is not one of 9600, 19200",
		},
		{
			name: "missing field placed at its parent",
			yaml: "interval: 1m\n",
			want: "agent.yaml:1:1: id: must be set",
		},
		{
			name: "syntax error",
			yaml: "id: [a1\n",
			want: "agent.yaml:",
		},
		{
			name: "empty file",
			yaml: "",
			want: "agent.yaml: file is empty",
		},
		{
			name: "two documents",
			yaml: "id: a1\n---\nid: a2\n",
			want: "agent.yaml:2: more than one YAML document",
		},
		{
			name: "secret from environment",
			yaml: "id: a1\npassword_env: ESEP_TEST_SECRET\n",
		},
		{
			name: "secret variable unset",
			yaml: "id: a1\npassword_env: ESEP_TEST_UNSET_VARIABLE\n",
			want: "agent.yaml:2: environment variable ESEP_TEST_UNSET_VARIABLE is not set",
		},
		{
			name: "secret given as a literal",
			yaml: "id: a1\npassword_env: hunter 2\n",
			want: `"hunter 2" is not an environment variable name`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sample
			err := Decode("agent.yaml", []byte(tt.yaml), &s)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Decode(%q) = %v, want nil", tt.yaml, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode(%q) = %v, want an error containing %q", tt.yaml, err, tt.want)
			}
		})
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	yaml := "buses:\n  - name: b\n    baud: 1\n  - name: c\n    baud: 2\n"
	var s sample
	err := Decode("a.yaml", []byte(yaml), &s)

	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v is not Errors", err)
	}
	want := []string{
		"a.yaml:1:1: id: must be set",
		"a.yaml:3:5: buses[0].baud: 1 is not one of 9600, 19200",
		"a.yaml:5:5: buses[1].baud: 2 is not one of 9600, 19200",
	}
	if len(es) != len(want) {
		t.Fatalf("got %d errors:\n%v\nwant %d", len(es), err, len(want))
	}
	for i := range want {
		if es[i].Error() != want[i] {
			t.Errorf("error %d = %q, want %q", i, es[i].Error(), want[i])
		}
	}
}

func TestDecodeKeepsDefaults(t *testing.T) {
	s := sample{ID: "default", Interval: 15 * time.Minute}
	if err := Decode("a.yaml", []byte("buses: []\n"), &s); err != nil {
		t.Fatal(err)
	}
	if s.ID != "default" || s.Interval != 15*time.Minute {
		t.Errorf("defaults lost: %+v", s)
	}
}

func TestSecretIsRedacted(t *testing.T) {
	t.Setenv("ESEP_TEST_SECRET", "s3cret")
	var s sample
	if err := Decode("a.yaml", []byte("id: x\npassword_env: ESEP_TEST_SECRET\n"), &s); err != nil {
		t.Fatal(err)
	}
	if s.Password.Value() != "s3cret" {
		t.Errorf("Value() = %q, want s3cret", s.Password.Value())
	}
	if str := s.Password.String(); strings.Contains(str, "s3cret") {
		t.Errorf("String() = %q leaks the secret", str)
	}
}

func TestLoadMissingFile(t *testing.T) {
	var s sample
	err := Load("/nonexistent/esep.yaml", &s)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/esep.yaml") {
		t.Fatalf("Load = %v, want an error naming the file", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("id: a1\ninterval: 15m\nbuses:\n  - name: b\n    baud: 9600\n"))
	f.Add([]byte("id: [a1\n"))
	f.Add([]byte("buses: {name: 1}\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s sample
		err := Decode("f.yaml", data, &s)
		if err != nil && !strings.HasPrefix(err.Error(), "f.yaml") {
			t.Fatalf("error %q does not name the file", err)
		}
	})
}
