package modbus

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/esep-kz/esep/internal/config"
)

// shipped holds the profiles built into every binary, one meter model a
// file, each from the maker's public register map named in its source.
//
//go:embed profiles/*.yaml
var shipped embed.FS

// Profiles is a set of profiles by name.
type Profiles map[string]*Profile

// ParseProfile decodes one profile file strictly and checks it; file names
// the file in errors, which carry its line and field.
func ParseProfile(file string, data []byte) (*Profile, error) {
	var p Profile
	if err := config.Decode(file, data, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ShippedProfiles returns the profiles built into the binary.
func ShippedProfiles() (Profiles, error) {
	return loadFS(shipped, "profiles", nil)
}

// LoadProfiles returns the shipped profiles, with those of the *.yaml
// files in dir laid over them: a file whose profile has the name of a
// shipped one replaces it, a new name adds a profile. An empty dir gives
// the shipped profiles alone. Every problem in every file is reported.
func LoadProfiles(dir string) (Profiles, error) {
	ps, err := ShippedProfiles()
	if err != nil || dir == "" {
		return ps, err
	}
	own, err := loadFS(os.DirFS(dir), ".", func(name string) string {
		return filepath.Join(dir, name)
	})
	if err != nil {
		return nil, fmt.Errorf("cannot load meter profiles from %q: %w", dir, err)
	}
	for name, p := range own {
		ps[name] = p
	}
	return ps, nil
}

// loadFS parses every *.yaml file of dir in fsys; show turns a file name
// into the name errors use, the embedded path when nil.
func loadFS(fsys fs.FS, dir string, show func(string) string) (Profiles, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	ps := Profiles{}
	from := map[string]string{}
	var errs []error
	for _, name := range names {
		file := name
		if show != nil {
			file = show(path.Base(name))
		}
		p, err := readProfile(fsys, name, file)
		switch {
		case err != nil:
			errs = append(errs, err)
		case from[p.Name] != "":
			errs = append(errs, fmt.Errorf("%s: profile %q is also defined in %s",
				file, p.Name, from[p.Name]))
		default:
			ps[p.Name], from[p.Name] = p, file
		}
	}
	return ps, errors.Join(errs...)
}

func readProfile(fsys fs.FS, name, file string) (*Profile, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("cannot read meter profile %q: %w", file, err)
	}
	return ParseProfile(file, data)
}

// Get returns the profile called name.
func (ps Profiles) Get(name string) (*Profile, error) {
	if p, ok := ps[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("profile %q (known: %s): %w",
		name, strings.Join(ps.Names(), ", "), ErrUnknownProfile)
}

// Names returns the profile names, sorted.
func (ps Profiles) Names() []string {
	names := make([]string, 0, len(ps))
	for n := range ps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
