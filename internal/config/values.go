package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

// typesByName are the Go types go-yaml may name in "cannot unmarshal X
// into T" without T being the type at the value's path: a type with its
// own UnmarshalYAML (such as Secret) decodes the node into one of these.
var typesByName = map[string]reflect.Type{}

func init() {
	for _, t := range []reflect.Type{
		reflect.TypeFor[int](), reflect.TypeFor[int8](), reflect.TypeFor[int16](),
		reflect.TypeFor[int32](), reflect.TypeFor[int64](),
		reflect.TypeFor[uint](), reflect.TypeFor[uint8](), reflect.TypeFor[uint16](),
		reflect.TypeFor[uint32](), reflect.TypeFor[uint64](),
		reflect.TypeFor[float32](), reflect.TypeFor[float64](),
		reflect.TypeFor[bool](), reflect.TypeFor[string](), durationType, timeType,
	} {
		typesByName[t.String()] = t
	}
}

// typeNamed returns the type go-yaml named in an error: at, the type found
// by following the value's path, when it is that type, otherwise the type
// the name stands for, or nil when the name says nothing more.
func typeNamed(name string, at reflect.Type) reflect.Type {
	name = strings.TrimLeft(name, "*")
	if at = deref(at); at != nil && at.String() == name {
		return at
	}
	if t, ok := typesByName[name]; ok {
		return t
	}

	switch {
	case strings.HasPrefix(name, "[]"):
		return reflect.TypeFor[[]any]()
	case strings.HasPrefix(name, "map["):
		return reflect.TypeFor[map[string]any]()
	}
	return nil
}

// wrongTypeMsg says why the value n cannot be decoded into t, in the
// file's words: "\"fast\" is not a whole number".
func wrongTypeMsg(n *yaml.Node, t reflect.Type) string {
	got := shown(n)
	t = deref(t)
	switch t {
	case nil:
		return got + " does not fit this key"
	case durationType:
		return got + " is not a duration: write it with a unit, such as 500ms or 2s"
	case timeType:
		return got + " is not a time: write it as 2024-03-01 or 2024-03-01T08:00:00+05:00"
	}

	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if isWholeNumber(n) {
			hi := int64(math.MaxInt64) >> (64 - t.Bits())
			return fmt.Sprintf("%s is outside %d..%d", got, -hi-1, hi)
		}
		return got + " is not a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if isWholeNumber(n) {
			return fmt.Sprintf("%s is outside 0..%d", got, uint64(math.MaxUint64)>>(64-t.Bits()))
		}
		return got + " is not a whole number of 0 or more"
	case reflect.Float32, reflect.Float64:
		return got + " is not a number"
	case reflect.Bool:
		return got + " is not true or false"
	case reflect.String:
		return got + " is not a string"
	case reflect.Slice, reflect.Array:
		return got + " is not a list"
	case reflect.Map, reflect.Struct:
		return got + " is not a mapping"
	}
	return got + " does not fit this key"
}

// isWholeNumber reports whether n is a number without a fractional part,
// which a whole-number key refuses only for being out of its range.
func isWholeNumber(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.ScalarNode {
		return false
	}

	switch n.ShortTag() {
	case "!!int":
		return true
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		return err == nil && !math.IsInf(f, 0) && f == math.Trunc(f)
	}
	return false
}

// maxShown bounds how much of a value an error message repeats.
const maxShown = 40

// shown writes the value n as an error message names it: a number or a
// boolean as written, a string quoted, a list or a mapping by its kind.
func shown(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "*" + n.Value
	}

	v := n.Value
	if utf8.RuneCountInString(v) > maxShown {
		v = string([]rune(v)[:maxShown-3]) + "..."
	}
	if n.ShortTag() == "!!str" || v == "" {
		return strconv.Quote(v)
	}
	return v
}
