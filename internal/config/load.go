package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
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
//
// Unknown keys and values of the wrong type do not stop decoding: the rest
// of the file is decoded and validated, and every problem is reported in
// file order. Only a syntax error, a second document or a type's own
// UnmarshalYAML giving up (see ValueError) stops at the first.
func Decode(name string, data []byte, dst any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return yamlError(name, err)
	}
	if root.Kind == 0 {
		return &Error{File: name, Msg: "file is empty"}
	}
	doc := newDocument(name, &root, dst)

	// Decode, going on past type errors
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var te *yaml.TypeError
	err := dec.Decode(dst)
	if err != nil && !errors.Is(err, io.EOF) && !errors.As(err, &te) {
		// Decoding stopped midway, so dst is only partly filled and
		// checking it would report keys that are in fact set.
		e, _ := doc.translate(err.Error())
		return Errors{e}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return &Error{File: name, Line: extra.Line, Msg: "more than one YAML document"}
	}

	errs, dm := Errors(nil), &damage{}
	if te != nil {
		errs, dm = doc.typeErrors(te.Errors)
	}

	// Validate what was decoded
	v, ok := dst.(Validator)
	if !ok {
		return errs.orNil()
	}
	c := NewChecker(name, &root)
	v.Validate(c)
	for _, e := range c.errs {
		if f := dm.fileField(e.Field); f != e.Field {
			e.Field = f
			e.Line, e.Column = c.position(f)
		}
		if !dm.covers(e.Field) {
			errs = append(errs, e)
		}
	}
	sortErrors(errs)
	return errs.orNil()
}

// yamlError turns a go-yaml syntax error into Errors that carry the file
// name, so that it reads like every other config error.
func yamlError(name string, err error) error {
	e := &Error{File: name, Msg: err.Error()}
	if sub := lineRE.FindStringSubmatch(e.Msg); sub != nil {
		e.Line, _ = strconv.Atoi(sub[1])
		e.Msg = sub[2]
	}
	return Errors{e}
}

// ValueError is what an UnmarshalYAML method returns for a value n it
// cannot take. Decode reports the message at n's key and decodes the rest
// of the file, where any other error stops decoding at n. Quote the value
// with %q so that a line holding several values is told apart.
func ValueError(n *yaml.Node, format string, args ...any) error {
	msg := fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, args...))
	return &yaml.TypeError{Errors: []string{msg}}
}
