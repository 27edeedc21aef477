package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// go-yaml reports what it could not decode as English sentences that carry
// a line but no column and name Go types ("line 16: field pairty not found
// in type agent.Bus"). The messages below are the ones it writes; each is
// matched, placed on the key or value it is about by walking the parsed
// document, and written again in the file's words.
var (
	lineRE       = regexp.MustCompile(`(?s)^(?:yaml: )?line (\d+): (.*)$`)
	unknownKeyRE = regexp.MustCompile(`(?s)^field (.*) not found in type \S+$`)
	fieldTwiceRE = regexp.MustCompile(`(?s)^field (.*) already set in type \S+$`)
	keyTwiceRE   = regexp.MustCompile(`(?s)^mapping key (.*) already defined at line \d+$`)
	// The value is cut to 7 bytes and "..." when longer than 10; lists
	// and mappings have none.
	wrongTypeRE = regexp.MustCompile("(?s)^cannot unmarshal (\\S+)(?: `(.*)`)? into (.+)$")
)

// maxTypeErrors bounds the decoding errors reported for one file: past a
// hundred the file is likely not what the program expects at all.
const maxTypeErrors = 100

// typeErrors turns go-yaml's messages into Errors, and records what was
// left undecoded.
func (d *document) typeErrors(msgs []string) (Errors, *damage) {
	var errs Errors
	dm := &damage{}
	seen := map[string]bool{}
	for _, m := range msgs {
		e, undecoded := d.translate(m)
		// An alias used twice repeats the errors of what it points at.
		if seen[e.Error()] {
			continue
		}
		seen[e.Error()] = true

		if len(errs) == maxTypeErrors {
			e.Field, e.Msg = "", "more problems not shown"
			errs = append(errs, e)
			dm.broken = append(dm.broken, "") // checks would only add to them
			break
		}
		errs = append(errs, e)
		if undecoded != nil {
			dm.add(undecoded)
		}
	}
	return errs, dm
}

// translate places and rewords one go-yaml message. It also returns the
// entry whose value go-yaml left undecoded, if any.
func (d *document) translate(msg string) (*Error, *entry) {
	line, text := 0, msg
	if sub := lineRE.FindStringSubmatch(msg); sub != nil {
		line, _ = strconv.Atoi(sub[1])
		text = sub[2]
	}

	if sub := unknownKeyRE.FindStringSubmatch(text); sub != nil {
		return d.unknownKey(line, sub[1]), nil
	}
	if sub := fieldTwiceRE.FindStringSubmatch(text); sub != nil {
		e, _ := d.keyTwice(line, sub[1])
		return e, nil
	}
	if sub := keyTwiceRE.FindStringSubmatch(text); sub != nil {
		key, err := strconv.Unquote(sub[1])
		if err != nil {
			key = sub[1]
		}
		// go-yaml checks a mapping for repeated keys before decoding it
		// and decodes none of it when it finds one.
		return d.keyTwice(line, key)
	}
	if sub := wrongTypeRE.FindStringSubmatch(text); sub != nil {
		return d.wrongType(line, sub[1], sub[2], sub[3])
	}

	// A type's own UnmarshalYAML wrote the message: keep its words and
	// place it on the value it quotes, or else on the line's last value.
	e := d.find(line, "quoted "+text, func(e *entry) bool {
		return e.value.Kind == yaml.ScalarNode && strings.Contains(text, strconv.Quote(e.value.Value))
	})
	if e == nil && line > 0 {
		if on := d.byLine[line]; len(on) > 0 {
			e = on[len(on)-1]
		}
	}
	return d.errorAt(e, line, text), e
}

func (d *document) unknownKey(line int, key string) *Error {
	e := d.find(line, "key "+key, func(e *entry) bool { return e.key != nil && e.key.Value == key })
	if e == nil {
		return d.errorAt(nil, line, fmt.Sprintf("unknown key %q", key))
	}

	known := knownKeys(e.up.typ)
	return d.errorAt(e, line, unknownKeyMsg(key, known))
}

// keyTwice reports the second of two equal keys; it also returns the
// entry of the mapping that holds them.
func (d *document) keyTwice(line int, key string) (*Error, *entry) {
	e := d.find(line, "twice "+key, func(e *entry) bool {
		return e.key != nil && e.key.Value == key && firstKey(e.mapping, key) != e.key
	})
	if e == nil {
		return d.errorAt(nil, line, fmt.Sprintf("key %q is set twice", key)), nil
	}
	msg := fmt.Sprintf("already set on line %d", firstKey(e.mapping, key).Line)
	return d.errorAt(e, line, msg), e.up
}

func (d *document) wrongType(line int, tag, value, goType string) (*Error, *entry) {
	// A list in a list, or the uses of an anchor, share a line: the Go
	// type tells them apart, except where a type's own UnmarshalYAML
	// decodes the node into another type.
	kind := "value " + tag + " " + value + " " + goType
	e := d.find(line, "typed "+kind, func(e *entry) bool {
		t := deref(e.typ)
		return nodeIs(e.value, tag, value) && t != nil && t.String() == strings.TrimLeft(goType, "*")
	})
	if e == nil {
		e = d.find(line, kind, func(e *entry) bool {
			return nodeIs(e.value, tag, value) && (e.typ == nil || isUnmarshaler(e.typ))
		})
	}
	if e != nil {
		return d.errorAt(e, line, wrongTypeMsg(resolve(e.value), typeNamed(goType, e.typ))), e
	}

	// A map key of the wrong type, such as a word where numbers key a map.
	e = d.find(line, "map "+kind, func(e *entry) bool {
		return e.key != nil && nodeIs(e.key, tag, value)
	})
	if e != nil {
		return d.errorAt(e, line, "key "+wrongTypeMsg(resolve(e.key), typeNamed(goType, nil))), e
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
	return d.errorAt(nil, line, wrongTypeMsg(n, typeNamed(goType, nil))), nil
}

// isUnmarshaler reports whether values of type t decode themselves.
func isUnmarshaler(t reflect.Type) bool {
	u := reflect.TypeFor[yaml.Unmarshaler]()
	return t.Implements(u) || reflect.PointerTo(t).Implements(u)
}

// nodeIs reports whether n, or what it stands for, is the value go-yaml
// describes by tag and value (cut to "1234567..." when long).
func nodeIs(n *yaml.Node, tag, value string) bool {
	n = resolve(n)
	switch tag {
	case "!!seq":
		return n.Kind == yaml.SequenceNode
	case "!!map":
		return n.Kind == yaml.MappingNode
	}
	if n.Kind != yaml.ScalarNode {
		return false
	}
	if cut, ok := strings.CutSuffix(value, "..."); ok && len(cut) == 7 && len(n.Value) > 10 {
		return strings.HasPrefix(n.Value, cut)
	}
	return n.Value == value
}

// firstKey returns the first key node of mapping m that is key.
func firstKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; m != nil && i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}
