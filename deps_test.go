// Package esep holds repository-wide checks; the code lives under cmd/,
// internal/ and drivers/.
package esep

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestDependenciesDocumented keeps DEPENDENCIES.md and go.mod in step:
// every direct requirement is explained, and nothing is explained that
// is no longer required.
func TestDependenciesDocumented(t *testing.T) {
	direct := directRequirements(t, "go.mod")
	documented := documentedModules(t, "DEPENDENCIES.md")

	for m := range direct {
		if !documented[m] {
			t.Errorf("go.mod requires %s directly but DEPENDENCIES.md does not list it", m)
		}
	}
	for m := range documented {
		if !direct[m] {
			t.Errorf("DEPENDENCIES.md lists %s but go.mod does not require it directly", m)
		}
	}
}

func directRequirements(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	mods := map[string]bool{}
	inBlock := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "require (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		if strings.Contains(line, "// indirect") || line == "" {
			continue
		}
		mods[strings.Fields(line)[0]] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return mods
}

// rowRE matches the first cell of a table row naming a module path.
var rowRE = regexp.MustCompile(`^\|\s*([a-z0-9.-]+\.[a-z]+/[^\s|]+)\s*\|`)

func documentedModules(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mods := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := rowRE.FindStringSubmatch(line); m != nil {
			mods[m[1]] = true
		}
	}
	return mods
}

// TestAgentStaysSmall checks that the edge agent, which runs on small ARM
// boxes with flash storage, links none of the centre's back ends or the
// test harness.
func TestAgentStaysSmall(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./cmd/esep-agent").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{
		"github.com/jackc/pgx",
		"github.com/influxdata/influxdb-client-go",
		"modernc.org/sqlite",
		"github.com/mochi-mqtt/server",
		"github.com/esep-kz/esep/internal/testkit",
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("esep-agent links %s", pkg)
			}
		}
	}
}
