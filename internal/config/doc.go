// Package config loads esep's YAML configuration files.
//
// Decoding is strict: an unknown key is an error, because a misspelt key
// silently falling back to its default is how a meter ends up polled at
// the wrong baud rate. Every error names the file, the line and the field
// ("agent.yaml:14:5: buses[0].baud: 12345 is not one of ..."), and all
// problems in a file are reported together so an engineer fixes them in
// one pass: a misspelt key or a value of the wrong type does not hide the
// checks of the rest. Decoding errors are written in the file's words,
// not Go's: `unknown key "pairty"; did you mean "parity"?`, "500 is not a
// duration: write it with a unit, such as 500ms or 2s".
//
// Each binary owns one configuration struct. Its defaults are set by a
// function of the binary's package before Load fills in what the file
// says; its checks implement Validator. Secrets never appear in files:
// a Secret field names an environment variable and is read from there.
package config
