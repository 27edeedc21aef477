package wire

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// exampleRE finds the examples of docs/mqtt.md: a ```json block headed
// by a comment naming its schema. A json block without one is an error,
// so that no example goes unchecked.
var exampleRE = regexp.MustCompile("(?s)(<!-- schema: ([a-z]+\\.json) -->\\n)?```json\\n(.*?)```")

// TestDocExamples checks every example in docs/mqtt.md against its
// schema and its Go decoder, and that each schema has an example.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "mqtt.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i, m := range exampleRE.FindAllSubmatch(doc, -1) {
		schema, example := string(m[2]), m[3]
		line := 1 + strings.Count(string(doc[:strings.Index(string(doc), string(m[0]))]), "\n")
		if schema == "" {
			t.Errorf("mqtt.md:%d: json block %d has no <!-- schema: ... --> line", line, i)
			continue
		}
		decode, ok := decoders[schema]
		if !ok {
			t.Errorf("mqtt.md:%d: no schema %q", line, schema)
			continue
		}
		seen[schema]++
		if err := validate(t, schema, example); err != nil {
			t.Errorf("mqtt.md:%d: %s refuses the example:\n%v", line, schema, err)
		}
		if err := decode(example); err != nil {
			t.Errorf("mqtt.md:%d: the decoder refuses the example: %v", line, err)
		}
	}
	for _, name := range schemaFiles {
		if seen[name] == 0 {
			t.Errorf("mqtt.md has no example of %s", name)
		}
	}
}
