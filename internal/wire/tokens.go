package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
)

// keyRE is what every key of schema v1 looks like. encoding/json matches
// keys to fields without regard to case ("Meter", or "meteſ" with a long
// s, would fill meter), which JSON Schema does not; refusing any other
// key keeps the decoder from accepting what the schema refuses.
var keyRE = regexp.MustCompile(`^[a-z][a-z_]*$`)

// frame is one open object or array while checkTokens walks a document.
type frame struct {
	object  bool // an object, else an array
	wantKey bool // in an object: the next token is a key
}

// checkTokens walks doc and refuses a null anywhere (schema v1 leaves a
// field out instead; encoding/json would read null as "not there" where
// the schema refuses it) and any key that is not lower snake case.
func checkTokens(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return invalid("", "%v", err)
		}
		if tok == json.Delim('}') || tok == json.Delim(']') {
			stack = stack[:len(stack)-1]
			continue
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if key, _ := tok.(string); !keyRE.MatchString(key) {
				return invalid("", "key %q is not a field of schema v1", tok)
			}
			top.wantKey = false
			continue
		}
		if top != nil && top.object {
			top.wantKey = true // this token is a value, or opens one
		}
		switch tok {
		case nil:
			return invalid("", "null is not a value of schema v1; leave the field out")
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, frame{object: tok == json.Delim('{'), wantKey: true})
		}
	}
}
