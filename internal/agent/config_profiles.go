package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/config"
)

// resolveDirs makes the relative directories of the agent section
// relative to base, the configuration file's directory, so that the
// agent finds them whatever directory it was started in.
func (c *Config) resolveDirs(base string) {
	for _, dir := range []*string{&c.Agent.ProfilesDir, &c.Agent.StateDir, &c.Spool.Path} {
		if *dir != "" && !filepath.IsAbs(*dir) {
			*dir = filepath.Join(base, *dir)
		}
	}
}

// loadProfiles loads the shipped profiles and those of ProfilesDir, and
// reports every meter whose profile is not among them at its line in
// the configuration file at path.
//
// It runs after Validate, once the directory is known to be resolved,
// so it places its errors with a checker of its own over the same file.
func (c *Config) loadProfiles(path string) error {
	ch, err := fileChecker(path)
	if err != nil {
		return err
	}

	dir := c.Agent.ProfilesDir
	if dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			ch.Errorf("agent.profiles_dir", "%q is not a directory", dir)
			return ch.Err()
		}
	}
	c.profiles, err = modbus.LoadProfiles(dir)
	if err != nil {
		ch.Errorf("agent.profiles_dir", "%v", err)
		return ch.Err()
	}

	known := strings.Join(c.profiles.Names(), ", ")
	for i, m := range c.Meters {
		if _, ok := c.profiles[m.Profile]; !ok {
			ch.Errorf(fmt.Sprintf("meters[%d].profile", i), "no profile is named %q (known: %s)",
				m.Profile, known)
		}
	}
	return ch.Err()
}

// fileChecker returns a checker that places errors in the YAML file at
// path.
func fileChecker(path string) (*config.Checker, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse config %q: %w", path, err)
	}
	return config.NewChecker(path, &root), nil
}
