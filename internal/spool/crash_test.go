package spool

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// childEnv, when set to a spool path, makes the test binary the child
// of TestCrashSafety instead of running the tests.
const childEnv = "ESEP_SPOOL_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(runChild(path))
	}
	os.Exit(m.Run())
}

// runChild appends records from four goroutines, as four buses would,
// until it is killed, and prints each seq once Append has returned it:
// from then on the seq must survive.
func runChild(path string) int {
	s, err := Open(context.Background(), path, Options{MaxBytes: 1 << 30, Log: zerolog.Nop()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				recs := make([]Record, 1+i%3)
				for j := range recs {
					recs[j] = reading(fmt.Sprintf("bus%d-m%d", g, j), time.Now())
				}
				seqs, err := s.Append(context.Background(), recs...)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				var b bytes.Buffer
				for _, seq := range seqs {
					fmt.Fprintf(&b, "%d\n", seq)
				}
				mu.Lock()
				os.Stdout.Write(b.Bytes()) // one write: a kill cuts no line in two
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return 0
}

// TestCrashSafety kills a child appending to a spool at 20 random
// moments and checks, after each, that the file opens, that every seq
// the child was given is held and that no seq was given twice.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 20 processes")
	}
	const seed = 20260302
	rng := rand.New(rand.NewPCG(seed, 1))
	path := testPath(t)
	reported := map[uint64]bool{}
	var last uint64 // largest seq reported so far

	for round := range 20 {
		seqs, stderr := runAndKill(t, path, time.Duration(rng.IntN(60))*time.Millisecond)
		if len(seqs) == 0 {
			t.Fatalf("round %d: the child reported no seq; its stderr:\n%s", round, stderr)
		}
		for _, seq := range seqs {
			if reported[seq] || seq <= last {
				t.Errorf("round %d (seed %d): seq %d given again (largest before %d)",
					round, seed, seq, last)
			}
			reported[seq] = true
		}
		last = max(last, slices.Max(seqs)) // four goroutines print out of order

		s := openTest(t, path, Options{MaxBytes: 1 << 30})
		checkHeld(t, s, reported, last, round)
		if next := s.Stats().NextSeq; next <= last {
			t.Errorf("round %d: NextSeq = %d after seq %d was given", round, next, last)
		}
		ackEveryOther(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d: %d seqs reported durable over 20 kills", seed, len(reported))
}

// runAndKill starts the child on path, lets it append for wait after its
// first seq, kills it with SIGKILL and returns the seqs it reported.
func runAndKill(t *testing.T, path string, wait time.Duration) ([]uint64, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	first := make(chan struct{})
	lines := make(chan []uint64)
	go func() { lines <- readSeqs(out, first) }()
	select {
	case <-first:
	case <-time.After(20 * time.Second):
	}
	time.Sleep(wait)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	seqs := <-lines
	cmd.Wait() // killed: its error says so
	return seqs, stderr.String()
}

// readSeqs reads whole lines of seqs until r ends, closing first after
// the first one; a line the kill cut short is not counted.
func readSeqs(r io.Reader, first chan struct{}) []uint64 {
	var seqs []uint64
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if len(seqs) == 0 {
				close(first)
			}
			return seqs
		}
		seq, perr := strconv.ParseUint(strings.TrimSpace(line), 10, 64)
		if perr != nil {
			continue
		}
		seqs = append(seqs, seq)
		if len(seqs) == 1 {
			close(first)
		}
	}
}

// checkHeld checks that every reported seq up to last is held once.
func checkHeld(t *testing.T, s *Spool, reported map[uint64]bool, last uint64, round int) {
	t.Helper()
	held, _, err := s.Lookup(1, last)
	if err != nil {
		t.Fatalf("round %d: Lookup: %v", round, err)
	}
	have := map[uint64]bool{}
	for _, r := range held {
		if have[r.Seq] {
			t.Errorf("round %d: seq %d held twice", round, r.Seq)
		}
		have[r.Seq] = true
	}
	for seq := range reported {
		if !have[seq] {
			t.Errorf("round %d: seq %d was reported durable and is lost", round, seq)
		}
	}
}

// ackEveryOther acknowledges half the pending records, so that the next
// child is killed over a file holding history too.
func ackEveryOther(t *testing.T, s *Spool) {
	t.Helper()
	pending := mustPending(t, s)
	var acks []uint64
	for i := 0; i < len(pending); i += 2 {
		acks = append(acks, pending[i])
	}
	mustAck(t, s, acks...)
}
