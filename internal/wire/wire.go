// Package wire is the MQTT payload schema v1 between the edge agent and
// the centre: the agent encodes its readings, events, status, inventory
// and resend answers with it, and the ingestor decodes them; the centre
// encodes commands and the agent decodes them. Both sides share this one
// package so that they cannot drift apart.
//
// Every payload is a JSON object with "v": 1. docs/schema/v1 describes
// each one as JSON Schema (draft 2020-12) for readers outside Go, and
// docs/mqtt.md lists the topics with an example of each message. Numbers
// that are measurements travel as decimal strings at the meter's
// resolution, never as JSON numbers, so no reader turns an index into a
// binary float. Times are UTC, RFC 3339 with milliseconds.
//
// Decoding is strict: unknown fields are errors, as in the rest of esep,
// so a change of shape is a new version, not a silent guess. No field
// holds free text about people: payloads name meters, buses and device
// models, never residents, addresses or personal accounts, which are
// joined to metering points only at the centre.
package wire

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
	"unicode/utf8"
)

// Version is the schema version this package writes and reads.
const Version = 1

// MaxDecoded bounds the bytes a message body may decompress to, so that
// a small gzip bomb cannot exhaust the ingestor's memory. A batch of 50
// readings is about 40 KB of JSON; catch-up batches after an outage may
// be a hundred times that.
const MaxDecoded = 8 << 20

// TimeLayout is how every time is written: UTC, RFC 3339, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// idRE is what meter, bus, agent and command IDs may be. It matches the
// agent configuration's rule, since IDs appear in topics and file names.
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// printableRE is what serials, models and versions may be: printable
// ASCII, as meters and build information produce, and nothing longer
// than a register block or a version string needs.
var printableRE = regexp.MustCompile(`^[ -~]{1,128}$`)

// maxText bounds error texts in runes; a longer cause is cut at encoding.
const maxText = 512

// formatTime writes t as TimeLayout, or fails for a time the layout
// cannot hold.
func formatTime(field string, t time.Time) (string, error) {
	if t.IsZero() {
		return "", invalid(field, "time is not set")
	}
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return "", invalid(field, "year %d is outside 1 to 9999", t.Year())
	}
	return t.Format(TimeLayout), nil
}

// parseTime reads a time written by formatTime and nothing else: a time
// zone offset, fewer or more digits of seconds, or a lenient spelling
// are refused, so that one instant has one spelling on the wire.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, invalid(field, "missing")
	}
	t, err := time.Parse(TimeLayout, s)
	if err != nil || t.Format(TimeLayout) != s || t.IsZero() {
		return time.Time{}, invalid(field, "%q is not a UTC time like %s", s, TimeLayout)
	}
	return t, nil
}

// checkID checks an ID field against idRE.
func checkID(field, id string) error {
	if id == "" {
		return invalid(field, "missing")
	}
	if !idRE.MatchString(id) {
		return invalid(field, "%q is not an ID (letters, digits, '.', '_', '-'; "+
			"at most 64, starting with a letter or digit)", id)
	}
	return nil
}

// checkPrintable checks a serial, model or version field.
func checkPrintable(field, s string) error {
	if !printableRE.MatchString(s) {
		return invalid(field, "%q is not 1 to 128 printable ASCII characters", s)
	}
	return nil
}

// checkText checks an error text: valid UTF-8 of at most maxText runes.
func checkText(field, s string) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxText {
		return invalid(field, "is not UTF-8 text of at most %d characters", maxText)
	}
	return nil
}

// clipText makes an error text fit checkText, cutting at a rune.
func clipText(s string) string {
	s = string(bytes.ToValidUTF8([]byte(s), []byte("?")))
	if utf8.RuneCountInString(s) <= maxText {
		return s
	}
	n := 0
	for i := range s {
		if n == maxText-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// versionJSON is the part every payload shares, read first so that a
// payload of another version is reported as such and not as a list of
// unknown fields.
type versionJSON struct {
	V *int `json:"v"`
}

// checkVersion reads "v" from doc and accepts Version only.
func checkVersion(doc []byte) error {
	var v versionJSON
	if err := json.Unmarshal(doc, &v); err != nil {
		return invalid("", "cannot read the JSON object: %v", err)
	}
	if v.V == nil {
		return invalid("v", "missing")
	}
	if *v.V != Version {
		return &FieldError{Field: "v", kind: ErrVersion,
			Msg: fmt.Sprintf("version %d is not supported (want %d)", *v.V, Version)}
	}
	return nil
}

// decodeStrict decodes one JSON object into v, refusing unknown fields
// and anything after the object.
func decodeStrict(doc []byte, v any) error {
	if err := checkTokens(doc); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("", "%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("", "data after the JSON object")
	}
	return nil
}

// decodeDoc checks the version of doc, then decodes it strictly.
func decodeDoc(doc []byte, v any) error {
	if err := checkVersion(doc); err != nil {
		return err
	}
	return decodeStrict(doc, v)
}

// marshal writes v as compact JSON without the HTML escapes of
// json.Marshal, so that an error text like "<nil>" stays readable.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// gzipMagic starts every gzip stream (RFC 1952, section 2.3.1).
var gzipMagic = []byte{0x1f, 0x8b}

// plain returns body decompressed when it is gzip, else as it is, and
// refuses a body that is or grows past MaxDecoded bytes.
func plain(body []byte) ([]byte, error) {
	if !bytes.HasPrefix(body, gzipMagic) {
		if len(body) > MaxDecoded {
			return nil, fmt.Errorf("body of %d bytes: %w", len(body), ErrTooLarge)
		}
		return body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, invalid("", "bad gzip stream: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, MaxDecoded+1))
	if err != nil {
		return nil, invalid("", "bad gzip stream: %v", err)
	}
	if len(out) > MaxDecoded {
		return nil, fmt.Errorf("body grows past %d bytes: %w", MaxDecoded, ErrTooLarge)
	}
	return out, nil
}

// compress gzips doc at the best compression: a batch is written once
// and sent over a metered GSM link, so bytes matter more than CPU. The
// header has no name and no time, so equal batches give equal bytes.
func compress(doc []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(doc); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
