package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

func echo() Command {
	return Command{
		Name:    "echo",
		Summary: "print the argument",
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			upper := fs.Bool("upper", false, "upper case")
			return func(_ context.Context, env *Env, args []string) error {
				switch {
				case len(args) != 1:
					return errors.New("want one argument: " + ErrUsage.Error())
				case args[0] == "fail":
					return errors.New("device did not answer")
				case args[0] == "usage":
					return ErrUsage
				}
				out := args[0]
				if *upper {
					out = strings.ToUpper(out)
				}
				env.Log.Info().Str("arg", out).Msg("echo")
				_, err := env.Stdout.Write([]byte(out + "\n"))
				return err
			}
		},
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"runs a command", []string{"echo", "hi"}, 0, "hi\n", ""},
		{"command flags", []string{"echo", "-upper", "hi"}, 0, "HI\n", ""},
		{"global flags", []string{"-log-level", "debug", "echo", "hi"}, 0, "hi\n", `"arg":"hi"`},
		{"failure exits 1", []string{"echo", "fail"}, 1, "", "esep-test echo: device did not answer"},
		{"usage error exits 2", []string{"echo", "usage"}, 2, "", "-upper"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"no command", nil, 2, "", "Commands:"},
		{"bad log level", []string{"-log-level", "loud", "echo", "x"}, 2, "", `log level "loud"`},
		{"version", []string{"version"}, 0, "esep-test ", ""},
		{"help exits 0", []string{"-h"}, 0, "", "Commands:"},
		{"command help exits 0", []string{"echo", "-h"}, 0, "", "-upper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(&stdout, &stderr, "esep-test", "a test binary", tt.args, echo())
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q, want prefix %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}
