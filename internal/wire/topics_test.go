package wire

import (
	"errors"
	"testing"
)

func TestTopics(t *testing.T) {
	got := Topics("esep", "bldg-0042")
	want := TopicSet{
		Readings:  "esep/v1/bldg-0042/readings",
		Events:    "esep/v1/bldg-0042/events",
		Status:    "esep/v1/bldg-0042/status",
		Inventory: "esep/v1/bldg-0042/inventory",
		Cmd:       "esep/v1/bldg-0042/cmd",
		Resend:    "esep/v1/bldg-0042/resend",
	}
	if got != want {
		t.Errorf("Topics(esep, bldg-0042) = %+v, want %+v", got, want)
	}
	if got := Topics("kz/almaty/esep", "b1").Status; got != "kz/almaty/esep/v1/b1/status" {
		t.Errorf("status topic under a three-level prefix is %q", got)
	}
	if got := Topics("esep/#", "b1"); got != (TopicSet{}) {
		t.Errorf("Topics with a wildcard prefix = %+v, want the zero TopicSet", got)
	}
}

func TestCheckTopics(t *testing.T) {
	tests := []struct {
		prefix, agent string
		want          string // in the error; "" for none
	}{
		{"esep", "bldg-0042", ""},
		{"kz/esep", "b.1_x", ""},
		{"", "b1", "it is empty"},
		{"$SYS", "b1", "starting with '$' is the broker's"},
		{"esep/+", "b1", "wildcard"},
		{"esep#", "b1", "wildcard"},
		{"esep/", "b1", "empty level"},
		{"/esep", "b1", "empty level"},
		{"kz//esep", "b1", "empty level"},
		{"es\x00ep", "b1", "NUL"},
		{"esep", "", "agent: missing"},
		{"esep", "b/1", `"b/1" is not an ID`},
		{"esep", "+", `"+" is not an ID`},
		{"esep", "#", `"#" is not an ID`},
		{"esep", "$b1", `"$b1" is not an ID`},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+" "+tt.agent, func(t *testing.T) {
			err := CheckTopics(tt.prefix, tt.agent)
			if tt.want == "" {
				wantErr(t, err)
				return
			}
			wantErr(t, err, tt.want)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("CheckTopics(%q, %q) = %v, want ErrInvalid", tt.prefix, tt.agent, err)
			}
		})
	}
}

func TestFiltersAndParse(t *testing.T) {
	f, err := Filters("esep")
	if err != nil || f.Readings != "esep/v1/+/readings" || f.Resend != "esep/v1/+/resend" {
		t.Errorf("Filters(esep) = %+v, %v; want esep/v1/+/<name>", f, err)
	}
	tests := []struct {
		topic       string
		agent, name string // "" for an error
	}{
		{"esep/v1/bldg-0042/readings", "bldg-0042", "readings"},
		{"esep/v1/b1/inventory", "b1", "inventory"},
		{"esep/v2/b1/readings", "", ""},
		{"esep/v1/b1/readings/x", "", ""},
		{"esep/v1/b1/", "", ""},
		{"other/v1/b1/status", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			agent, name, err := ParseTopic("esep", tt.topic)
			if agent != tt.agent || name != tt.name || (err == nil) != (tt.agent != "") {
				t.Errorf("ParseTopic(%q) = %q, %q, %v; want %q, %q", tt.topic, agent, name,
					err, tt.agent, tt.name)
			}
		})
	}
}
