package uplink

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/esep-kz/esep/internal/testkit"
	"github.com/esep-kz/esep/internal/wire"
)

// TestResend asks for ranges again after everything was delivered and
// the history up to Seq 20 expired: what is held arrives again on its
// topic before the answer, what is not is answered as gone.
func TestResend(t *testing.T) {
	m := testkit.StartMosquitto(t, testkit.MosquittoOptions{})
	sub := newSubscriber(t, m, subSpec{})
	src := newMemSource()
	for range 120 {
		src.add(t, KindReading, 9)
		src.add(t, KindEvent, 1)
	}
	u, _ := runUplink(t, testConfig(m), src, testOptions(nil))
	waitFor(t, "1200 records delivered", func() bool {
		return src.allAcked() && sub.distinct() == 1200
	})
	src.forget(20)

	tests := []struct {
		name     string
		from, to uint64
		want     wire.ResendAnswer // From, To, Agent and ID are the request's
		wantSeqs []uint64          // published again
	}{
		{name: "held", from: 30, to: 40, want: wire.ResendAnswer{Resent: 11},
			wantSeqs: seqRange(30, 40)},
		{
			name: "partly gone", from: 11, to: 25,
			want:     wire.ResendAnswer{Resent: 5, Gone: []wire.Range{{From: 11, To: 20}}},
			wantSeqs: seqRange(21, 25),
		},
		{name: "all gone", from: 1, to: 5,
			want: wire.ResendAnswer{Gone: []wire.Range{{From: 1, To: 5}}}},
		{
			name: "across lookup chunks", from: 15, to: 1100,
			want:     wire.ResendAnswer{Resent: 1080, Gone: []wire.Range{{From: 15, To: 20}}},
			wantSeqs: seqRange(21, 1100),
		},
		{
			name: "too wide", from: 1, to: 200_000,
			want: wire.ResendAnswer{
				Error: "range 1 to 200000 is wider than 100000 records; ask in parts"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("rs-%d", i)
			mark := len(sub.messages(0))
			requestResend(t, sub, wire.Command{Cmd: wire.ResendRequest, ID: id,
				From: tt.from, To: tt.to})

			got, resent := awaitAnswer(t, sub, mark)
			want := tt.want
			want.Agent, want.ID, want.From, want.To = testAgent, id, tt.from, tt.to
			if !reflect.DeepEqual(got, want) {
				t.Errorf("resend %d to %d:\n got answer %+v\nwant answer %+v",
					tt.from, tt.to, got, want)
			}
			slices.Sort(resent)
			if !slices.Equal(resent, tt.wantSeqs) {
				t.Errorf("resend %d to %d: got %d records before the answer (%s), want %d (%s)",
					tt.from, tt.to, len(resent), span(resent), len(tt.wantSeqs), span(tt.wantSeqs))
			}
		})
	}

	t.Run("unreadable request is counted, not answered", func(t *testing.T) {
		awaitToken(t, sub.client.Publish(sub.topics.Cmd, 1, false, `{"v":1,"cmd":"reboot"}`),
			"publish a bad command")
		waitFor(t, "the bad request counted", func() bool { return u.Status().ResendInvalid == 1 })
	})
	if _, _, twice := src.ackCounts(); len(twice) > 0 {
		t.Errorf("resent records acknowledged again: %v", twice[:min(len(twice), 10)])
	}
}

func requestResend(t *testing.T, sub *subscriber, c wire.Command) {
	t.Helper()
	body, err := wire.EncodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	awaitToken(t, sub.client.Publish(sub.topics.Cmd, 1, false, body), "publish the request")
}

// awaitAnswer waits for the next resend answer after message mark and
// returns it with the Seqs of the batches that came before it.
func awaitAnswer(t *testing.T, sub *subscriber, mark int) (wire.ResendAnswer, []uint64) {
	t.Helper()
	var body []byte
	var resent []uint64
	waitFor(t, "the answer", func() bool {
		resent = nil
		for _, msg := range sub.messages(mark) {
			if msg.topic == sub.topics.Resend {
				body = msg.payload
				return true
			}
			resent = append(resent, msg.seqs...)
		}
		return false
	})
	ans, err := wire.DecodeResend(body)
	if err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	return ans, resent
}

func TestAppendRange(t *testing.T) {
	tests := []struct {
		name string
		have []wire.Range
		add  Range
		want []wire.Range
	}{
		{name: "first", add: Range{From: 3, To: 5}, want: []wire.Range{{From: 3, To: 5}}},
		{name: "touching merges", have: []wire.Range{{From: 3, To: 5}},
			add: Range{From: 6, To: 9}, want: []wire.Range{{From: 3, To: 9}}},
		{name: "gap stays", have: []wire.Range{{From: 3, To: 5}}, add: Range{From: 7, To: 9},
			want: []wire.Range{{From: 3, To: 5}, {From: 7, To: 9}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendRange(slices.Clone(tt.have), tt.add)
			if !slices.Equal(got, tt.want) {
				t.Errorf("appendRange(%v, %v) = %v, want %v", tt.have, tt.add, got, tt.want)
			}
		})
	}
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for q := from; q <= to; q++ {
		out = append(out, q)
	}
	return out
}

// span shows a sorted list of Seqs briefly.
func span(seqs []uint64) string {
	if len(seqs) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d..%d", seqs[0], seqs[len(seqs)-1])
}
