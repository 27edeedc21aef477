package config

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Validator is implemented by configuration structs that check their own
// values after decoding. Validate reports each problem to c by field path
// and does not stop at the first one.
type Validator interface {
	Validate(c *Checker)
}

// Checker collects validation problems and places each at the line of the
// field it names.
type Checker struct {
	file string
	root *yaml.Node
	errs Errors
}

// NewChecker returns a checker for a file whose parsed document is root.
// root may be nil for a configuration built in code; errors then carry the
// file name alone.
func NewChecker(file string, root *yaml.Node) *Checker {
	return &Checker{file: file, root: root}
}

// Errorf records a problem with the field at path, a dotted path of YAML
// keys and sequence indexes such as "meters[3].slave".
func (c *Checker) Errorf(path, format string, args ...any) {
	line, col := c.position(path)
	c.errs = append(c.errs, &Error{
		File:   c.file,
		Line:   line,
		Column: col,
		Field:  path,
		Msg:    fmt.Sprintf(format, args...),
	})
}

// Err returns the collected problems in file order, or nil when there are
// none. It returns a plain nil, never a typed nil inside the interface.
func (c *Checker) Err() error {
	if len(c.errs) == 0 {
		return nil
	}
	sortErrors(c.errs)
	return c.errs
}

// position finds the line and column of path, falling back to the deepest
// ancestor that is written in the file.
func (c *Checker) position(path string) (line, col int) {
	n := c.root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n == nil {
		return 0, 0
	}
	line, col = n.Line, n.Column

	for _, seg := range splitPath(path) {
		key, next := child(n, seg)
		if next == nil {
			return line, col
		}
		line, col = key.Line, key.Column
		n = next
	}
	return line, col
}

// child returns the node that names seg inside n (the key for a mapping,
// the element for a sequence) and the value node under it.
func child(n *yaml.Node, seg string) (key, value *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				return n.Content[i], n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		i, err := strconv.Atoi(seg)
		if err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i]
		}
	}
	return nil, nil
}

// splitPath turns "a.b[2].c" into ["a", "b", "2", "c"].
func splitPath(path string) []string {
	path = strings.ReplaceAll(path, "[", ".")
	path = strings.ReplaceAll(path, "]", "")
	var segs []string
	for _, s := range strings.Split(path, ".") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return segs
}
