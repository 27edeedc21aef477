package config

import (
	"slices"
	"strconv"
	"strings"
)

// damage is what go-yaml could not decode, as it bears on the checks run
// after it: a check of an undecoded value would only repeat the decoding
// error, and go-yaml leaves an undecoded list item out and closes the gap,
// so that later items are checked under indexes one too low.
type damage struct {
	broken []string         // paths whose value was left undecoded
	gaps   map[string][]int // list path: the indexes of the items left out, ascending
}

// add records that the value at e was left undecoded.
func (dm *damage) add(e *entry) {
	dm.broken = append(dm.broken, e.path())
	if !e.index {
		return
	}

	if dm.gaps == nil {
		dm.gaps = map[string][]int{}
	}
	list := e.up.path()
	i, _ := strconv.Atoi(e.seg)
	if !slices.Contains(dm.gaps[list], i) {
		dm.gaps[list] = append(dm.gaps[list], i)
		slices.Sort(dm.gaps[list])
	}
}

// covers reports whether a check of field, a path in the file's indexes,
// would be misled: field is or lies under an undecoded value, or is a list
// with items left out, whose length and contents the check did not see.
func (dm *damage) covers(field string) bool {
	if _, ok := dm.gaps[field]; ok {
		return true
	}
	return slices.ContainsFunc(dm.broken, func(p string) bool { return within(field, p) })
}

// within reports whether field is path or lies under it: "buses[0].baud"
// is within "buses[0]" and "buses", and everything is within the root "".
func within(field, path string) bool {
	return path == "" || field == path ||
		strings.HasPrefix(field, path+".") || strings.HasPrefix(field, path+"[")
}

// fileField turns field, a path as a check names it by the decoded lists'
// indexes, into the path of the same value in the file.
func (dm *damage) fileField(field string) string {
	if len(dm.gaps) == 0 {
		return field
	}

	var b strings.Builder
	for part := range strings.SplitSeq(field, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(key)
		for rest != "" {
			num, after, ok := strings.Cut(rest, "]")
			i, err := strconv.Atoi(num)
			if !ok || err != nil {
				return field // not a path this package writes
			}
			for _, gap := range dm.gaps[b.String()] {
				if gap <= i {
					i++
				}
			}
			b.WriteString("[" + strconv.Itoa(i) + "]")
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return b.String()
}
