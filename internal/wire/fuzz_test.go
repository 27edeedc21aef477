package wire

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fuzzDecoder fuzzes decode, seeded with encoder output and the examples
// of docs/mqtt.md for schema. Whatever decode accepts must also pass the
// schema (when it is plain JSON), and must encode again to the same.
func fuzzDecoder[T any](f *testing.F, schema string, decode func([]byte) (T, error),
	encode func(T) ([]byte, error)) {
	// Two readings, not fifty: the fuzzer minimises every new input it
	// finds, which takes minutes on a 50 KB batch.
	for _, seed := range encoded(f, 2)[schema] {
		f.Add(seed)
		f.Add(gunzip(f, seed))
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "mqtt.md"))
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range exampleRE.FindAllSubmatch(doc, -1) {
		if string(m[2]) == schema {
			f.Add(m[3])
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := decode(body)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(body, gzipMagic) {
			if err := validate(t, schema, body); err != nil {
				t.Fatalf("decoder accepts what %s refuses: %s\n%v", schema, body, err)
			}
		}
		again, err := encode(v)
		if err != nil {
			t.Fatalf("cannot encode again what was decoded from %s: %v", body, err)
		}
		back, err := decode(again)
		if err != nil {
			t.Fatalf("cannot decode %s, encoded from %s: %v", again, body, err)
		}
		if g, w := fmt.Sprintf("%+v", back), fmt.Sprintf("%+v", v); g != w {
			t.Fatalf("%s decodes to\n%s\nbut encoded again it is\n%s", body, w, g)
		}
	})
}

func FuzzDecodeReadings(f *testing.F) {
	fuzzDecoder(f, "readings.json", DecodeReadings, func(b Batch) ([]byte, error) {
		items := make([]Item, 0, len(b.Readings))
		for _, r := range b.Readings {
			data, err := EncodeReading(r.Reading, r.Flags...)
			if err != nil {
				return nil, err
			}
			items = append(items, Item{Seq: r.Seq, Data: data})
		}
		return ReadingsBatch(b.Agent, b.Sent, items)
	})
}

func FuzzDecodeEvents(f *testing.F) {
	fuzzDecoder(f, "events.json", DecodeEvents, func(b EventBatch) ([]byte, error) {
		items := make([]Item, 0, len(b.Events))
		for _, e := range b.Events {
			data, err := EncodeEvent(e.Event)
			if err != nil {
				return nil, err
			}
			items = append(items, Item{Seq: e.Seq, Data: data})
		}
		return EventsBatch(b.Agent, b.Sent, items)
	})
}

func FuzzDecodeStatus(f *testing.F) {
	fuzzDecoder(f, "status.json", DecodeStatus, EncodeStatus)
}

func FuzzDecodeInventory(f *testing.F) {
	fuzzDecoder(f, "inventory.json", DecodeInventory, EncodeInventory)
}

func FuzzDecodeCommand(f *testing.F) {
	fuzzDecoder(f, "command.json", DecodeCommand, EncodeCommand)
}

func FuzzDecodeResend(f *testing.F) {
	fuzzDecoder(f, "resend.json", DecodeResend, EncodeResend)
}
