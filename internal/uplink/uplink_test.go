package uplink

import (
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/testkit"
)

// TestDeliversEveryRecordOnce sends readings and events over a healthy
// link: each arrives once on its topic and is acknowledged once.
func TestDeliversEveryRecordOnce(t *testing.T) {
	m := testkit.StartMosquitto(t, testkit.MosquittoOptions{})
	sub := newSubscriber(t, m, subSpec{})
	src := newMemSource()
	for range 10 {
		src.add(t, KindReading, 190)
		src.add(t, KindEvent, 10)
	}
	u, _ := runUplink(t, testConfig(m), src, testOptions(nil))

	const n = 2000
	waitFor(t, "every record acknowledged and delivered", func() bool {
		return src.allAcked() && sub.distinct() == n
	})

	if _, _, twice := src.ackCounts(); len(twice) > 0 {
		t.Errorf("records acknowledged twice: %v", twice)
	}
	got := sub.batchSeqs()
	want := make([]uint64, n)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Seqs in arrival order: got %d (%v...), want 1..%d once each",
			len(got), got[:min(len(got), 20)], n)
	}
	for _, msg := range sub.messages(0) {
		if msg.seqs == nil {
			continue // status
		}
		wantTopic := sub.topics.Readings
		if src.recs[msg.seqs[0]-1].Kind == KindEvent {
			wantTopic = sub.topics.Events
		}
		if msg.topic != wantTopic || len(msg.seqs) > defaultBatchItems {
			t.Errorf("batch of %d records from %d on %s, want at most %d on %s",
				len(msg.seqs), msg.seqs[0], msg.topic, defaultBatchItems, wantTopic)
		}
	}

	st := u.Status()
	if !st.Connected || st.AckedRecords != n || st.PublishedRecords != n || st.Reconnects != 0 {
		t.Errorf("status: got connected %t, acked %d, published %d, reconnects %d; "+
			"want true, %d, %d, 0", st.Connected, st.AckedRecords, st.PublishedRecords,
			st.Reconnects, n, n)
	}
}

// TestBrokerDownAtStart starts the uplink while nothing listens: it
// retries and reports, and once the broker is up everything arrives, in
// order, once.
func TestBrokerDownAtStart(t *testing.T) {
	m := testkit.StartMosquitto(t, testkit.MosquittoOptions{
		Persistence: true, MaxQueuedMessages: -1,
	})
	sub := newSubscriber(t, m, subSpec{})
	m.Stop() // saves the subscriber's session, which queues what comes

	sp := openSpool(t)
	appendSpool(t, sp, 1000)
	u, _ := runUplink(t, testConfig(m), sp, testOptions(nil))
	waitFor(t, "three failed attempts", func() bool { return u.Status().Failures >= 3 })

	st := u.Status()
	if st.Connected || st.LastError == nil ||
		!containsAll(st.LastError.Error(), `cannot connect to broker "`+m.URL()+`"`,
			"connection refused") {
		t.Fatalf("status while the broker is down: connected %t, error %v; "+
			"want false and connection refused", st.Connected, st.LastError)
	}
	if n := sp.Stats().Pending; n != 1000 {
		t.Fatalf("%d records pending while the broker was down, want 1000", n)
	}

	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "1000 records delivered", func() bool {
		return spoolDrained(sp)() && sub.distinct() == 1000
	})
	got := sub.batchSeqs()
	if !slices.IsSorted(got) || len(got) != 1000 {
		t.Errorf("got %d Seqs, sorted %t, want 1..1000 in order once each",
			len(got), slices.IsSorted(got))
	}
}

// TestSurvivesBrokerKills appends 10 000 readings while the broker is
// killed and restarted three times: every Seq arrives at least once.
func TestSurvivesBrokerKills(t *testing.T) {
	m := testkit.StartMosquitto(t, testkit.MosquittoOptions{
		// Saved after every change, so a Kill loses no accepted message,
		// and no queue cap while the subscriber reconnects.
		Persistence: true, AutosaveChanges: 1, MaxQueuedMessages: -1,
	})
	sub := newSubscriber(t, m, subSpec{})
	sp := openSpool(t)
	u, _ := runUplink(t, testConfig(m), sp, testOptions(nil))

	const n, chunk = 10_000, 50
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n / chunk {
			appendSpool(t, sp, chunk)
			time.Sleep(8 * time.Millisecond)
		}
	}()

	for i := range 3 {
		time.Sleep(400 * time.Millisecond)
		t.Logf("kill %d with %d records delivered, %d pending", i+1, sub.distinct(),
			sp.Stats().Pending)
		m.Kill()
		time.Sleep(200 * time.Millisecond)
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
	}
	<-done

	waitFor(t, "every record acknowledged and delivered", func() bool {
		return spoolDrained(sp)() && sub.distinct() == n
	})
	if miss := sub.missing(n); len(miss) > 0 {
		t.Fatalf("Seqs never delivered: %v", miss)
	}
	st := u.Status()
	if st.Reconnects < 3 {
		t.Errorf("reconnects: got %d, want at least 3", st.Reconnects)
	}
	t.Logf("%d deliveries for %d records; %d reconnects", len(sub.batchSeqs()), n,
		st.Reconnects)
}

// TestStatusMessages follows the retained status: online on connect,
// the will when the link breaks, online again, and offline on a clean
// stop; the inventory comes on connect and on change.
func TestStatusMessages(t *testing.T) {
	m := testkit.StartMosquitto(t, testkit.MosquittoOptions{})
	sub := newSubscriber(t, m, subSpec{})
	p := newProxy(t, m.Addr(), 0)
	c := testConfig(m)
	c.Broker = "tcp://" + p.addr()
	o := testOptions(nil)
	o.Inventory = []byte(`{"meters":1}`)
	u, stop := runUplink(t, c, newMemSource(), o)

	waitFor(t, "online and the inventory", func() bool {
		return slices.Equal(sub.states(), []string{"online+started"}) &&
			len(inventories(sub)) == 1
	})
	p.cut() // the broker publishes the will
	waitFor(t, "the will, then online again", func() bool { return len(sub.states()) == 3 })
	waitFor(t, "the inventory again", func() bool { return len(inventories(sub)) == 2 })
	u.SetInventory([]byte(`{"meters":2}`))
	waitFor(t, "the new inventory", func() bool { return len(inventories(sub)) == 3 })
	stop()

	want := []string{"online+started", "offline", "online+started", "offline+started"}
	waitFor(t, "offline", func() bool { return len(sub.states()) == len(want) })
	if got := sub.states(); !slices.Equal(got, want) {
		t.Errorf("status messages: got %q, want %q", got, want)
	}
	wantInv := []string{`{"meters":1}`, `{"meters":1}`, `{"meters":2}`}
	if got := inventories(sub); !slices.Equal(got, wantInv) {
		t.Errorf("inventory messages: got %q, want %q", got, wantInv)
	}
	if st := u.Status(); st.Connected || st.Reconnects != 1 {
		t.Errorf("after stop: connected %t, reconnects %d; want false, 1",
			st.Connected, st.Reconnects)
	}
}

func inventories(sub *subscriber) []string {
	var out []string
	for _, msg := range sub.messages(0) {
		if msg.topic == sub.topics.Inventory {
			out = append(out, string(msg.payload))
		}
	}
	return out
}

// TestAckOnlyAfterPuback lets the broker take every message but keeps
// its PUBACKs from the uplink: nothing is acknowledged to the source,
// the session times out, and the next one sends everything again.
func TestAckOnlyAfterPuback(t *testing.T) {
	m := testkit.StartMosquitto(t, testkit.MosquittoOptions{})
	sub := newSubscriber(t, m, subSpec{})
	p := newProxy(t, m.Addr(), 0)
	p.setDropAcks(true)
	c := testConfig(m)
	c.Broker, c.AckTimeout = "tcp://"+p.addr(), 300*time.Millisecond
	src := newMemSource()
	src.add(t, KindReading, 100)
	u, _ := runUplink(t, c, src, testOptions(nil))

	waitFor(t, "the broker to have every record", func() bool { return sub.distinct() == 100 })
	waitFor(t, "an ack timeout", func() bool {
		return errors.Is(u.Status().LastError, ErrAckTimeout)
	})
	if _, acked, _ := src.ackCounts(); acked != 0 {
		t.Fatalf("%d records acknowledged without a PUBACK, want 0", acked)
	}

	p.setDropAcks(false)
	// Every record went once with its PUBACK lost, and once more since.
	waitFor(t, "every record acknowledged and delivered twice", func() bool {
		return src.allAcked() && len(sub.batchSeqs()) >= 200
	})
	t.Logf("last error: %v", u.Status().LastError)
}

// TestStopWhileConnecting cancels Run while a silent server holds the
// CONNECT: Run returns at once, not after the connect timeout.
func TestStopWhileConnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // accepted, never answered
		}
	}()

	c := Config{Broker: "tcp://" + ln.Addr().String(), ConnectTimeout: time.Minute}
	_, stop := runUplink(t, c, newMemSource(), testOptions(nil))
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	stop()
	if took := time.Since(start); took > time.Second {
		t.Errorf("Run took %s to return after cancel, want well under 1s", took)
	}
}

func TestRunTwice(t *testing.T) {
	c := Config{Broker: "tcp://127.0.0.1:1"} // nothing listens on port 1
	u, _ := runUplink(t, c, newMemSource(), testOptions(nil))
	waitFor(t, "a failed attempt", func() bool { return u.Status().Failures > 0 })
	if err := u.Run(t.Context()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want %v", err, ErrRunning)
	}
}

// TestBadRecordSetAside spools a record that wire refuses between good
// ones: the others go, the bad one stays pending, and delivery goes on.
func TestBadRecordSetAside(t *testing.T) {
	m := testkit.StartMosquitto(t, testkit.MosquittoOptions{})
	sub := newSubscriber(t, m, subSpec{})
	src := newMemSource()
	src.add(t, KindReading, 10)
	src.addRecords(Record{Kind: KindReading, Meter: "apt-001-cw", Data: []byte(`{"meter":1}`)})
	src.add(t, KindReading, 10)
	u, _ := runUplink(t, testConfig(m), src, testOptions(nil))

	waitFor(t, "20 good records delivered", func() bool { return sub.distinct() == 20 })
	src.add(t, KindReading, 5)
	waitFor(t, "5 more delivered and 25 acknowledged", func() bool {
		_, acked, _ := src.ackCounts()
		return sub.distinct() == 25 && acked == 25
	})

	total, acked, _ := src.ackCounts()
	if miss := sub.missing(26); total != 26 || acked != 25 || !slices.Equal(miss, []uint64{11}) {
		t.Errorf("got %d of %d acknowledged, %v never delivered; want 25 of 26 and [11]",
			acked, total, miss)
	}
	if st := u.Status(); st.SetAside != 1 {
		t.Errorf("Status().SetAside = %d, want 1", st.SetAside)
	}
}
