package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Load reads the YAML file at path into dst, a pointer to a struct that
// already holds its defaults, and validates it when dst is a Validator.
func Load(path string, dst any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	return Decode(path, data, dst)
}

// Decode is Load for bytes already read; name is used in error messages.
func Decode(name string, data []byte, dst any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return yamlError(name, err)
	}
	if root.Kind == 0 {
		return &Error{File: name, Msg: "file is empty"}
	}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
		return yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return &Error{File: name, Line: extra.Line, Msg: "more than one YAML document"}
	}

	v, ok := dst.(Validator)
	if !ok {
		return nil
	}
	c := NewChecker(name, &root)
	v.Validate(c)
	return c.Err()
}

// lineRE finds the "line N: " that go-yaml puts in front of each message.
var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns a go-yaml error into Errors that carry the file name,
// so a syntax error or unknown key reads like every other config error.
func yamlError(name string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}

	es := make(Errors, 0, len(msgs))
	for _, m := range msgs {
		e := &Error{File: name, Msg: m}
		if sub := lineRE.FindStringSubmatch(m); sub != nil {
			e.Line, _ = strconv.Atoi(sub[1])
			e.Msg = sub[2]
		}
		es = append(es, e)
	}
	return es
}
