package uplink

import (
	"strings"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/testkit"
)

// TestWindowNeverExceeded slows every PUBACK down so that the uplink
// always has more to send than its window allows, and counts on the wire
// the messages awaiting their PUBACK.
func TestWindowNeverExceeded(t *testing.T) {
	tests := []struct {
		name   string
		window int
	}{
		{name: "one at a time", window: 1},
		{name: "four", window: 4},
		{name: "default", window: defaultWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testkit.StartMosquitto(t, testkit.MosquittoOptions{})
			// 50 ms is far longer than a batch takes to encode, even
			// under the race detector, so the window must fill up.
			p := newProxy(t, m.Addr(), 50*time.Millisecond)
			c := testConfig(m)
			c.Broker, c.Window, c.BatchItems = "tcp://"+p.addr(), tt.window, 10
			src := newMemSource()
			src.add(t, KindReading, 200)
			u, _ := runUplink(t, c, src, testOptions(nil))

			waitFor(t, "every record acknowledged", src.allAcked)
			// The birth message goes alone before the batches; the
			// batches must fill the window, or the test shows nothing.
			if got := p.maxOutstanding(); got != tt.window {
				t.Errorf("most messages awaiting PUBACK on the wire: got %d, want %d",
					got, tt.window)
			}
			if got := u.Status().MaxInFlight; got > tt.window {
				t.Errorf("Status().MaxInFlight: got %d, want at most %d", got, tt.window)
			}
		})
	}
}

// containsAll reports whether s contains every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
