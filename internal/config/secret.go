package config

import (
	"os"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// envNameRE is the form of an environment variable name that a Secret
// accepts: what POSIX shells can export.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Secret is a password, token or key read from the environment. In YAML
// it is written as the name of the variable ("password_env: ESEP_MQTT_PASSWORD"),
// so that files can be kept in version control and shown to colleagues.
// Its String form is redacted, so logging a config never leaks it.
type Secret struct {
	env   string
	value string
}

// UnmarshalYAML reads the variable name and the variable's value. An
// unset variable is an error: starting without a credential that the
// configuration asks for only moves the failure to a worse place.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	var name string
	if err := n.Decode(&name); err != nil {
		return err
	}
	if !envNameRE.MatchString(name) {
		return ValueError(n, "%q is not an environment variable name", name)
	}
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return ValueError(n, "environment variable %q is not set", name)
	}
	s.env, s.value = name, v
	return nil
}

// Value returns the secret itself, for the one place that needs it.
func (s Secret) Value() string { return s.value }

// Env returns the name of the environment variable the secret came from.
func (s Secret) Env() string { return s.env }

// IsSet reports whether the configuration named a secret.
func (s Secret) IsSet() bool { return s.env != "" }

// String redacts the value.
func (s Secret) String() string {
	if s.env == "" {
		return ""
	}
	return "$" + s.env + "(redacted)"
}
