package uplink

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// proxy stands between the uplink and the broker on loopback. It reads
// the MQTT packets both ways, so that a test can count the QoS 1
// messages awaiting their PUBACK as the client sees them, delay PUBACKs
// to fill the window, and cut the link as a dead modem would.
type proxy struct {
	t        testing.TB
	ln       net.Listener
	broker   string
	ackDelay time.Duration

	mu          sync.Mutex
	conns       []net.Conn
	outstanding map[uint16]bool // PUBLISH ids forwarded, PUBACK not yet, true for batches
	most        int
	dropAcks    bool // PUBACKs of batches are swallowed, as on a link dying one way
}

func newProxy(t testing.TB, broker string, ackDelay time.Duration) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the proxy: %v", err)
	}
	p := &proxy{t: t, ln: ln, broker: broker, ackDelay: ackDelay,
		outstanding: map[uint16]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.accept()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed at the end of the test
		}
		server, err := net.Dial("tcp", p.broker)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.outstanding = map[uint16]bool{} // a new session, new packet ids
		p.mu.Unlock()
		go p.pipe(client, server, p.fromClient)
		go p.pipe(server, client, p.fromBroker)
	}
}

// pipe copies packets from src to dst, calling see around each.
func (p *proxy) pipe(src, dst net.Conn, see func(packets.ControlPacket, func() error) error) {
	defer src.Close()
	defer dst.Close()
	for {
		cp, err := packets.ReadPacket(src)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.t.Logf("proxy: %v", err)
			}
			return
		}
		if see(cp, func() error { return cp.Write(dst) }) != nil {
			return
		}
	}
}

// fromClient counts each QoS 1 PUBLISH as it passes.
func (p *proxy) fromClient(cp packets.ControlPacket, forward func() error) error {
	if pub, ok := cp.(*packets.PublishPacket); ok && pub.Qos == 1 {
		p.mu.Lock()
		p.outstanding[pub.MessageID] = strings.HasSuffix(pub.TopicName, "/readings")
		p.most = max(p.most, len(p.outstanding))
		p.mu.Unlock()
	}
	return forward()
}

// fromBroker delays each PUBACK and uncounts it just before the client
// gets it. Uncounted any later, the client's next PUBLISH could be
// counted first and the count would exceed what the client has out.
func (p *proxy) fromBroker(cp packets.ControlPacket, forward func() error) error {
	ack, ok := cp.(*packets.PubackPacket)
	if !ok {
		return forward()
	}
	time.Sleep(p.ackDelay)
	p.mu.Lock()
	drop := p.dropAcks && p.outstanding[ack.MessageID]
	if !drop {
		delete(p.outstanding, ack.MessageID)
	}
	p.mu.Unlock()
	if drop {
		return nil
	}
	return forward()
}

// setDropAcks makes the proxy swallow the PUBACKs of batches of
// readings, or pass them again; the birth message still gets through.
func (p *proxy) setDropAcks(drop bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropAcks = drop
}

// maxOutstanding is the most QoS 1 messages that ever awaited a PUBACK.
func (p *proxy) maxOutstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.most
}

// cut closes every connection through the proxy at once.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
