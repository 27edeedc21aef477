package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Common is inlined into bus, to check that its keys count as bus keys.
type Common struct {
	Comment string `yaml:"comment"`
}

type bus struct {
	Common  `yaml:",inline"`
	Name    string        `yaml:"name"`
	Baud    int           `yaml:"baud"`
	Parity  string        `yaml:"parity"`
	Timeout time.Duration `yaml:"timeout"`
}

type limit struct {
	Max int `yaml:"max"`
}

type sample struct {
	ID       string            `yaml:"id"`
	Interval time.Duration     `yaml:"interval"`
	Buses    []bus             `yaml:"buses"`
	Limits   map[string]*limit `yaml:"limits"`
	Tags     []string          `yaml:"tags"`
	Ratio    float64           `yaml:"ratio"`
	Enabled  bool              `yaml:"enabled"`
	Port     uint16            `yaml:"port"`
	Small    int8              `yaml:"small"`
	Password Secret            `yaml:"password_env"`
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
	if len(s.Tags) > 2 {
		c.Errorf("tags", "%d tags, at most 2", len(s.Tags))
	}
}

func TestDecode(t *testing.T) {
	t.Setenv("ESEP_TEST_SECRET", "s3cret")
	tests := []struct {
		name string
		yaml string
		want string // every error, one a line; empty means success
	}{
		{
			name: "valid",
			yaml: "id: a1\ninterval: 15m\nbuses:\n  - name: b\n    baud: 9600\n    comment: riser\n",
		},

		// unknown keys
		{
			name: "unknown key suggests the closest",
			yaml: "id: a1\nintervl: 1m\n",
			want: `agent.yaml:2:1: intervl: unknown key "intervl"; did you mean "interval"?`,
		},
		{
			name: "swapped letters are one edit",
			yaml: "id: a1\nbuses:\n  - name: b\n    baud: 9600\n    pairty: N\n",
			want: `agent.yaml:5:5: buses[0].pairty: unknown key "pairty"; did you mean "parity"?`,
		},
		{
			name: "keys of an inline struct",
			yaml: "id: a1\nbuses:\n  - name: b\n    baud: 9600\n    coment: x\n",
			want: `agent.yaml:5:5: buses[0].coment: unknown key "coment"; did you mean "comment"?`,
		},
		{
			name: "a known key's prefix",
			yaml: "id: a1\nbuses:\n  - name: b\n    baud_rate: 9600\n",
			want: "agent.yaml:3:5: buses[0].baud: 0 is not one of 9600, 19200" +
				"\nagent.yaml:4:5: buses[0].baud_rate: unknown key \"baud_rate\"; " +
				"did you mean \"baud\"?",
		},
		{
			name: "nothing close lists the keys",
			yaml: "id: a1\nbuses:\n  - name: b\n    baud: 9600\n    speed: 9600\n",
			want: `agent.yaml:5:5: buses[0].speed: unknown key "speed"; known keys here are ` +
				"comment, name, baud, parity, timeout",
		},
		{
			name: "unknown key in a map's value",
			yaml: "id: a1\nlimits:\n  a: {mx: 1}\n",
			want: `agent.yaml:3:7: limits.a.mx: unknown key "mx"; did you mean "max"?`,
		},
		{
			name: "unknown key brought in by a merge key",
			yaml: "id: a1\nbuses:\n  - &b {name: b, baud: 9600}\n  - <<: *b\n    name: c\n    bad: 1\n",
			want: `agent.yaml:6:5: buses[1].bad: unknown key "bad"; did you mean "baud"?`,
		},

		// values of the wrong type
		{
			name: "word for a whole number",
			yaml: "id: a1\nbuses:\n  - name: b\n    baud: fast\n",
			want: `agent.yaml:4:5: buses[0].baud: "fast" is not a whole number`,
		},
		{
			name: "quoted number is a string",
			yaml: "id: a1\nbuses:\n  - name: b\n    baud: \"9600\"\n",
			want: `agent.yaml:4:5: buses[0].baud: "9600" is not a whole number`,
		},
		{
			name: "duration without a unit",
			yaml: "id: a1\ninterval: 500\n",
			want: "agent.yaml:2:1: interval: 500 is not a duration: write it with a unit, " +
				"such as 500ms or 2s",
		},
		{
			name: "whole number out of range",
			yaml: "id: a1\nsmall: 300\n",
			want: "agent.yaml:2:1: small: 300 is outside -128..127",
		},
		{
			name: "negative unsigned",
			yaml: "id: a1\nport: -1\n",
			want: "agent.yaml:2:1: port: -1 is outside 0..65535",
		},
		{
			name: "word for an unsigned number",
			yaml: "id: a1\nport: http\n",
			want: `agent.yaml:2:1: port: "http" is not a whole number of 0 or more`,
		},
		{
			name: "word for a number",
			yaml: "id: a1\nratio: half\n",
			want: `agent.yaml:2:1: ratio: "half" is not a number`,
		},
		{
			name: "word for a boolean",
			yaml: "id: a1\nenabled: maybe\n",
			want: `agent.yaml:2:1: enabled: "maybe" is not true or false`,
		},
		{
			name: "list for a string",
			yaml: "id: [a1]\n",
			want: "agent.yaml:1:1: id: a list is not a string",
		},
		{
			name: "scalar for a list",
			yaml: "id: a1\ntags: red\n",
			want: `agent.yaml:2:1: tags: "red" is not a list`,
		},
		{
			name: "scalar for a mapping in a map",
			yaml: "id: a1\nlimits:\n  a: 5\n",
			want: "agent.yaml:3:3: limits.a: 5 is not a mapping",
		},
		{
			name: "list for the whole file",
			yaml: "- id: a1\n",
			want: "agent.yaml:1:1: a list is not a mapping",
		},
		{
			name: "long value is cut",
			yaml: "id: a1\nsmall: " + strings.Repeat("x", 50) + "\n",
			want: `agent.yaml:2:1: small: "` + strings.Repeat("x", 37) + `..." is not a whole number`,
		},
		{
			name: "two on one line placed by column",
			yaml: "id: a1\nbuses: [{name: b, baud: x, timeout: 5}]\n",
			want: `agent.yaml:2:19: buses[0].baud: "x" is not a whole number` +
				"\nagent.yaml:2:28: buses[0].timeout: 5 is not a duration: write it with a unit, " +
				"such as 500ms or 2s",
		},
		{
			name: "value used through an alias placed at the use",
			yaml: "id: a1\nbuses:\n  - &b {name: b, baud: 9600}\ntags: [x, *b]\n",
			want: "agent.yaml:4:11: tags[1]: a mapping is not a string",
		},
		{
			name: "key set twice",
			yaml: "id: a1\nbuses:\n  - name: b\n    baud: 9600\n    name: c\n",
			want: "agent.yaml:5:5: buses[0].name: already set on line 3",
		},

		// decoding and validation together
		{
			name: "decode errors do not hide validation",
			yaml: "id: a1\nbuses:\n  - name: b\n    pairty: N\n    baud: 9601\ninterval: 7\n",
			want: `agent.yaml:4:5: buses[0].pairty: unknown key "pairty"; did you mean "parity"?` +
				"\nagent.yaml:5:5: buses[0].baud: 9601 is not one of 9600, 19200" +
				"\nagent.yaml:6:1: interval: 7 is not a duration: write it with a unit, " +
				"such as 500ms or 2s",
		},
		{
			name: "validation of an undecoded value left out",
			yaml: "id: a1\nbuses:\n  - name: b\n    baud: fast\n",
			want: `agent.yaml:4:5: buses[0].baud: "fast" is not a whole number`,
		},
		{
			name: "items after an undecoded one keep their index",
			yaml: "id: a1\nbuses:\n  - oops\n  - name: c\n    baud: 1\n",
			want: `agent.yaml:3:5: buses[0]: "oops" is not a mapping` +
				"\nagent.yaml:5:5: buses[1].baud: 1 is not one of 9600, 19200",
		},
		{
			name: "list with an undecoded item is not counted",
			yaml: "id: a1\ntags: [a, b, [c]]\n",
			want: "agent.yaml:2:14: tags[2]: a list is not a string",
		},

		// validation
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

		// whole-file problems
		{
			name: "syntax error",
			yaml: "id: [a1\n",
			want: "agent.yaml:1: did not find expected ',' or ']'",
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

		// secrets
		{
			name: "secret from environment",
			yaml: "id: a1\npassword_env: ESEP_TEST_SECRET\n",
		},
		{
			name: "secret variable unset",
			yaml: "password_env: ESEP_TEST_UNSET_VARIABLE\n",
			want: "agent.yaml:1:1: password_env: environment variable " +
				`"ESEP_TEST_UNSET_VARIABLE" is not set` +
				"\nagent.yaml:1:1: id: must be set",
		},
		{
			name: "secret given as a literal",
			yaml: "id: a1\npassword_env: hunter 2\n",
			want: `agent.yaml:2:1: password_env: "hunter 2" is not an environment variable name`,
		},
		{
			name: "secret given as a list",
			yaml: "id: a1\npassword_env: [A]\n",
			want: "agent.yaml:2:1: password_env: a list is not a string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sample
			got := ""
			if err := Decode("agent.yaml", []byte(tt.yaml), &s); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Decode of\n%s\ngot:\n%s\nwant:\n%s", tt.yaml, got, tt.want)
			}
		})
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	yaml := "buses:\n  - name: b\n    baud: 1\n  - name: c\n    baud: 2\n    parity: [E]\n"
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
		"a.yaml:6:5: buses[1].parity: a list is not a string",
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

func TestDecodeCutsManyProblems(t *testing.T) {
	yaml := "id: a1\ntags:\n" + strings.Repeat("  - [x]\n", 150)
	var s sample
	err := Decode("a.yaml", []byte(yaml), &s)

	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v is not Errors", err)
	}
	if len(es) != maxTypeErrors+1 {
		t.Errorf("got %d errors, want %d", len(es), maxTypeErrors+1)
	}
	first, last := es[0].Error(), es[len(es)-1].Error()
	if want := "a.yaml:3:5: tags[0]: a list is not a string"; first != want {
		t.Errorf("first error = %q, want %q", first, want)
	}
	if want := "a.yaml:103:5: more problems not shown"; last != want {
		t.Errorf("last error = %q, want %q", last, want)
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

func TestDecodeWithoutValidator(t *testing.T) {
	var b bus
	err := Decode("b.yaml", []byte("name: b\nbaud: x\nparty: N\n"), &b)
	want := `b.yaml:2:1: baud: "x" is not a whole number` +
		"\nb.yaml:3:1: party: unknown key \"party\"; did you mean \"parity\"?"
	if err == nil || err.Error() != want {
		t.Errorf("Decode = %v\nwant:\n%s", err, want)
	}
}

func TestClosestKey(t *testing.T) {
	known := []string{"name", "transport", "baud", "parity", "data_bits", "timeout", "timezone"}
	tests := []struct {
		key, want string
	}{
		{"pairty", "parity"},
		{"Baud", "baud"},
		{"databits", "data_bits"},
		{"trasnport", "transport"},
		{"baudrate", "baud"},
		{"rtu_transport", "transport"},
		{"tim", "timeout"}, // a prefix of two: the first declared
		{"nme", "name"},
		{"nm", ""}, // two edits in two letters could be any key
		{"x", ""},
		{"speed", ""},
		{strings.Repeat("a", 1000), ""},
	}
	for _, tt := range tests {
		if got := closestKey(tt.key, known); got != tt.want {
			t.Errorf("closestKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"baud", "baud", 0},
		{"pairty", "parity", 1},
		{"functon", "function", 1},
		{"kitten", "sitting", 3},
		{"ab", "", 2},
		{"ёж", "еж", 1},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b, 10); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
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
	f.Add([]byte("id: a1\nbuses:\n  - oops\n  - {name: c, baud: x, pairty: E}\ntags: [a, [b]]\n"))
	f.Add([]byte("buses:\n  - &b {name: b, baud: 9600}\n  - <<: *b\n    bad: 1\n" +
		"    name: c\n    name: d\n"))
	f.Add([]byte("limits: {a: {mx: 1}, b: 5}\nsmall: 300\nport: -1\ninterval: 500\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s sample
		err := Decode("f.yaml", data, &s)
		if err == nil {
			return
		}
		var es Errors
		if !errors.As(err, &es) {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %q is neither Error nor Errors", err)
			}
			es = Errors{e}
		}
		for i, e := range es {
			if e.File != "f.yaml" {
				t.Fatalf("error %q does not name the file", e)
			}
			if i > 0 && e.Line < es[i-1].Line {
				t.Fatalf("errors out of file order:\n%v", err)
			}
		}
	})
}
