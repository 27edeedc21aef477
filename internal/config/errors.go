package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a configuration file, placed at the line and
// column of the offending key (or of its closest written parent when the
// key was left out and its default is what is wrong).
type Error struct {
	File   string
	Line   int
	Column int
	Field  string // dotted path such as "buses[0].baud"; empty for syntax errors
	Msg    string
}

// Error formats the problem as file:line:column: field: message, the form
// editors and CI logs turn into a link.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, in file order.
type Errors []*Error

// Error lists the problems one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// orNil returns es, or a plain nil when it is empty, never a typed nil
// inside the interface.
func (es Errors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// sortErrors puts es in file order: by line, then column, keeping the
// order of problems found at the same place.
func sortErrors(es Errors) {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}
