package config

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// This file answers, from the Go type a file is decoded into, what keys a
// mapping may hold and what kind of value a key takes, so that a decoding
// error can say "did you mean" and "is not a whole number" in the words of
// the file rather than of the code.

// keySet is the keys of a struct type as go-yaml decodes it.
type keySet struct {
	keys  []string                // in declaration order
	types map[string]reflect.Type // of the value under each key
	rest  reflect.Type            // element of an ",inline" map, which takes any other key
}

// keySets caches structKeys, by struct type.
var keySets sync.Map

// structKeys returns the keys of struct type t, following go-yaml's rules:
// the yaml tag names the key, an untagged field is keyed by its lower-cased
// name, "-" and unexported fields are skipped and ",inline" structs lend
// their keys.
func structKeys(t reflect.Type) *keySet {
	if ks, ok := keySets.Load(t); ok {
		return ks.(*keySet)
	}

	ks := &keySet{types: map[string]reflect.Type{}}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.PkgPath != "" && !f.Anonymous {
			continue
		}

		tag := f.Tag.Get("yaml")
		if tag == "" && !strings.Contains(string(f.Tag), ":") {
			tag = string(f.Tag)
		}
		name, flags, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}

		if slices.Contains(strings.Split(flags, ","), "inline") {
			switch ft := deref(f.Type); ft.Kind() {
			case reflect.Struct:
				inner := structKeys(ft)
				for _, k := range inner.keys {
					ks.add(k, inner.types[k])
				}
				ks.rest = cmp.Or(inner.rest, ks.rest)
			case reflect.Map:
				ks.rest = ft.Elem()
			}
			continue
		}
		ks.add(cmp.Or(name, strings.ToLower(f.Name)), f.Type)
	}

	keySets.Store(t, ks)
	return ks
}

func (ks *keySet) add(key string, t reflect.Type) {
	ks.keys = append(ks.keys, key)
	ks.types[key] = t
}

// deref strips pointers from t.
func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// childType returns the type of the value under seg, a key or a list
// index, in a value of type t, or nil when the types do not say: t is an
// interface, or a struct without that key.
func childType(t reflect.Type, seg string) reflect.Type {
	switch t = deref(t); {
	case t == nil:
		return nil
	case t.Kind() == reflect.Struct:
		ks := structKeys(t)
		if ft, ok := ks.types[seg]; ok {
			return ft
		}
		return ks.rest
	case t.Kind() == reflect.Slice, t.Kind() == reflect.Array, t.Kind() == reflect.Map:
		return t.Elem()
	}
	return nil
}

// knownKeys returns the keys a mapping decoded into t may hold, in
// declaration order, or nil when t is not a struct.
func knownKeys(t reflect.Type) []string {
	if t = deref(t); t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	return structKeys(t).keys
}

// unknownKeyMsg words an unknown key: the closest known key when one is
// near enough to be a typo, otherwise the list of keys allowed there.
func unknownKeyMsg(key string, known []string) string {
	if s := closestKey(key, known); s != "" {
		return fmt.Sprintf("unknown key %q; did you mean %q?", key, s)
	}
	if len(known) == 0 {
		return fmt.Sprintf("unknown key %q", key)
	}
	return fmt.Sprintf("unknown key %q; known keys here are %s", key, strings.Join(known, ", "))
}

// closestKey returns the known key nearest to key, or "" when none is
// near. Near is an edit distance (with swapped neighbours counted as one
// edit) of at most a third of the key's length, or one key starting or
// ending with the other ("baud_rate" or "word_order" for "baud" and
// "order"). Ties go to the key declared first.
func closestKey(key string, known []string) string {
	lkey := strings.ToLower(key)
	limit := max(1, len([]rune(lkey))/3)
	best, bestScore := "", limit+2
	for _, k := range known {
		if k == key {
			continue
		}

		lk := strings.ToLower(k)
		score := editDistance(lkey, lk, limit)
		if score > limit {
			if !isAffix(lkey, lk) {
				continue
			}
			score = limit + 1
		}
		if score < bestScore {
			best, bestScore = k, score
		}
	}
	return best
}

// isAffix reports whether one of a and b starts or ends with the other
// and the shorter has at least three letters, so that "id" is not taken
// for a part of every key that starts with "id".
func isAffix(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return len(a) >= 3 && (strings.HasPrefix(b, a) || strings.HasSuffix(b, a))
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent letters, each
// counting one. It gives up with limit+1 once the lengths alone differ by
// more than limit.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > limit || -d > limit {
		return limit + 1
	}

	// Three rows of the dynamic programming table: two back, one back and
	// the current one, as a swap looks two letters back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
