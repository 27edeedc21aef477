package config

import (
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A document is a parsed file seen as a list of its values, each with the
// path a Checker names it by and the Go type it is decoded into, so that
// a decoding error can be placed and worded.
type document struct {
	file    string
	entries []*entry
	byLine  map[int][]*entry
	// searches go on from where the last search of the same kind on the
	// same line stopped: go-yaml reports in file order.
	searches map[string]*search
}

// entry is one value of a document: the root, a value under a mapping key
// or a list item. Its path is built on demand from the entries above it,
// as deep documents would otherwise hold a quadratic amount of paths.
type entry struct {
	up      *entry
	seg     string       // the key, or the index of a list item; "" for the root
	index   bool         // seg is a list index
	key     *yaml.Node   // nil for the root and for list items
	value   *yaml.Node   // never nil
	mapping *yaml.Node   // the mapping that holds key
	typ     reflect.Type // what value is decoded into; nil when the types do not say
}

// newDocument indexes the values of root, the parsed form of file that is
// decoded into dst.
func newDocument(file string, root *yaml.Node, dst any) *document {
	d := &document{file: file, byLine: map[int][]*entry{}, searches: map[string]*search{}}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	d.walk(&entry{value: n, typ: reflect.TypeOf(dst)})
	return d
}

// walk indexes e and the values under it.
func (d *document) walk(e *entry) {
	d.entries = append(d.entries, e)
	d.byLine[e.value.Line] = append(d.byLine[e.value.Line], e)
	if e.key != nil && e.key.Line != e.value.Line {
		d.byLine[e.key.Line] = append(d.byLine[e.key.Line], e)
	}
	// go-yaml reports a value used through an alias at the anchor's line.
	if a := e.value.Alias; e.value.Kind == yaml.AliasNode && a != nil && a.Line != e.value.Line {
		d.byLine[a.Line] = append(d.byLine[a.Line], e)
	}

	switch n := e.value; n.Kind {
	case yaml.MappingNode:
		d.walkPairs(e, n)
	case yaml.SequenceNode:
		for i, item := range n.Content {
			seg := strconv.Itoa(i)
			d.walk(&entry{up: e, seg: seg, index: true, value: item, typ: childType(e.typ, seg)})
		}
	}
	// What an alias points at is walked where it is written.
}

// walkPairs walks the pairs of mapping m as children of e. A merge key
// ("<<") lends the pairs of a mapping written in place to e as well.
func (d *document) walkPairs(e *entry, m *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			d.walkMerged(e, v)
			continue
		}
		d.walk(&entry{up: e, seg: k.Value, key: k, value: v, mapping: m, typ: childType(e.typ, k.Value)})
	}
}

// walkMerged walks what a merge key brings in: a mapping or a list of
// mappings written in place (an alias is walked where its anchor is).
func (d *document) walkMerged(e *entry, v *yaml.Node) {
	switch v.Kind {
	case yaml.MappingNode:
		d.walkPairs(e, v)
	case yaml.SequenceNode:
		for _, src := range v.Content {
			if src.Kind == yaml.MappingNode {
				d.walkPairs(e, src)
			}
		}
	}
}

// path returns e's field path as a Checker writes it: "buses[0].baud".
func (e *entry) path() string {
	var parts []string
	for ; e != nil && e.up != nil; e = e.up {
		switch {
		case e.index:
			parts = append(parts, "["+e.seg+"]")
		case e.up.up != nil:
			parts = append(parts, "."+e.seg)
		default:
			parts = append(parts, e.seg)
		}
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
	}
	return b.String()
}

// search is where finding one kind of entry on one line has got to.
type search struct {
	next  int    // index into the line's entries to go on from
	first *entry // the first found, for an error that is repeated
}

// find returns the next entry on line that match accepts, going on from
// where the last search with the same kind stopped. Once none is left it
// returns the first found again: an alias repeats the errors of what it
// points at. Line 0, a message without a line, searches the whole
// document and accepts only a single match.
func (d *document) find(line int, kind string, match func(*entry) bool) *entry {
	key := strconv.Itoa(line) + "\x00" + kind
	s := d.searches[key]
	if s != nil && line == 0 {
		return s.first
	}
	if s == nil {
		s = &search{}
		d.searches[key] = s
	}
	if line == 0 {
		s.first = d.only(match)
		return s.first
	}

	on := d.byLine[line]
	for ; s.next < len(on); s.next++ {
		if e := on[s.next]; match(e) {
			s.next++
			if s.first == nil {
				s.first = e
			}
			return e
		}
	}
	return s.first
}

// only returns the one entry of the document that match accepts, or nil
// when there is none or more than one.
func (d *document) only(match func(*entry) bool) *entry {
	var found *entry
	for _, e := range d.entries {
		if match(e) {
			if found != nil {
				return nil
			}
			found = e
		}
	}
	return found
}

// resolve returns what n stands for when it is an alias.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// errorAt makes an Error placed on e, at its key when it has one as a
// Checker places it, or on line alone when e is nil.
func (d *document) errorAt(e *entry, line int, msg string) *Error {
	err := &Error{File: d.file, Line: line, Msg: msg}
	if e == nil {
		return err
	}

	n := e.value
	if e.key != nil {
		n = e.key
	}
	err.Line, err.Column, err.Field = n.Line, n.Column, e.path()
	return err
}
