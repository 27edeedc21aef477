package uplink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// quiesce is how long Disconnect lets paho send the DISCONNECT packet,
// in milliseconds as paho counts it.
const quiesce = 250

// connect makes a new paho client, connects it and prepares the session:
// the birth message, the inventory and the subscription to commands.
//
// Every session has a client of its own. With a persistent session paho
// never completes the tokens of messages in flight when the link drops
// (it would send them again on reconnect itself), so a session that ends
// abandons its client and its tokens, and the next one takes up again
// from the source, which still holds every record not acknowledged.
func (u *Uplink) connect(ctx context.Context) (*session, error) {
	tlsCfg, err := u.cfg.tlsConfig(u.opts.Now())
	if err != nil {
		return nil, u.connectError(err)
	}
	s := newSession(u)
	s.client = mqtt.NewClient(u.clientOptions(ctx, s, tlsCfg))

	tok := s.client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		// The CONNACK wait is bounded by ConnectTimeout; drop whatever
		// comes of it.
		go func() { <-tok.Done(); s.client.Disconnect(0) }()
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		if dialErr := s.dialError(); dialErr != nil {
			err = dialErr // paho's "network Error : ..." says less
		}
		return nil, u.connectError(err)
	}

	u.connected()
	if err := s.start(ctx); err != nil {
		s.end(false)
		u.update(func(st *Status) { st.Connected = false })
		return nil, err
	}
	return s, nil
}

// clientOptions configures paho for one session.
func (u *Uplink) clientOptions(ctx context.Context, s *session,
	tlsCfg *tls.Config) *mqtt.ClientOptions {
	o := mqtt.NewClientOptions().
		AddBroker(u.cfg.Broker).
		// A stable client ID and a persistent session (MQTT 3.1.1 section
		// 3.1.2.4) keep the cmd subscription, and the requests sent to it
		// while the agent was offline, across connections.
		SetClientID(u.agent).
		SetCleanSession(false).
		// 3.1.1 only: paho otherwise retries a refused CONNECT as 3.1,
		// and the second refusal hides the first one's cause.
		SetProtocolVersion(4).
		SetUsername(u.cfg.Username).
		SetPassword(u.cfg.Password.Value()).
		SetKeepAlive(u.cfg.KeepAlive).
		SetConnectTimeout(u.cfg.ConnectTimeout).
		// A write stuck on a dead link fails after this instead of never.
		SetWriteTimeout(u.cfg.ConnectTimeout).
		// Run reconnects itself, with its own backoff and a new client.
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetBinaryWill(u.topics.Status, u.status.will, 1, true).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { s.lose(err) }).
		// Requests queued in the session arrive before Subscribe has set
		// up its route; the default handler takes them.
		SetDefaultPublishHandler(u.onCommand).
		SetCustomOpenConnectionFn(s.dial(ctx, tlsCfg))
	return o
}

// dial opens the network connection for paho, so that cancelling ctx
// ends a dial or a TLS handshake at once and the dial's own error, not
// paho's summary, reaches the status.
func (s *session) dial(ctx context.Context, tlsCfg *tls.Config) mqtt.OpenConnectionFunc {
	return func(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
		d := &net.Dialer{Timeout: o.ConnectTimeout}
		var conn net.Conn
		var err error
		if tlsCfg == nil {
			conn, err = d.DialContext(ctx, "tcp", uri.Host)
		} else {
			td := &tls.Dialer{NetDialer: d, Config: tlsCfg}
			conn, err = td.DialContext(ctx, "tcp", uri.Host)
		}
		s.mu.Lock()
		s.dialErr = err
		s.mu.Unlock()
		return conn, err
	}
}

func (s *session) dialError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialErr
}

// connectError names the broker and, for the causes an engineer must
// fix, says which in words of the configuration.
func (u *Uplink) connectError(err error) error {
	broker := u.cfg.Broker
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.Is(err, packets.ErrorRefusedNotAuthorised),
		errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		return fmt.Errorf("cannot connect to broker %q as %s: %w",
			broker, u.credentials(), ErrNotAuthorized)
	case errors.As(err, &unknown) && u.cfg.CAFile == "":
		return fmt.Errorf("cannot connect to broker %q: %w (the system's CAs; set ca_file)",
			broker, ErrUnknownAuthority)
	case errors.As(err, &unknown):
		return fmt.Errorf("cannot connect to broker %q: %w (the broker's certificate is "+
			"not from the CA in %q)", broker, ErrUnknownAuthority, u.cfg.CAFile)
	}
	return fmt.Errorf("cannot connect to broker %q: %w", broker, err)
}

// credentials describes the user an agent connects as, for errors.
func (u *Uplink) credentials() string {
	switch {
	case u.cfg.Username == "":
		return "an anonymous client"
	case u.cfg.Password.IsSet():
		return fmt.Sprintf("user %q with the password from $%s", u.cfg.Username,
			u.cfg.Password.Env())
	}
	return fmt.Sprintf("user %q without a password", u.cfg.Username)
}

// causeKey groups errors for log throttling: the text of a connection
// error carries ephemeral ports and changes every time.
func causeKey(err error) string {
	for _, e := range []error{ErrNotAuthorized, ErrUnknownAuthority, ErrCertExpired,
		ErrConnectionLost, ErrAckTimeout} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "refused"
	}
	return "other"
}

// start publishes the birth message and the inventory and subscribes to
// commands, waiting for each acknowledgement.
func (s *session) start(ctx context.Context) error {
	u := s.u
	steps := []struct {
		what string
		tok  mqtt.Token
	}{
		{u.topics.Status, s.client.Publish(u.topics.Status, 1, true, u.status.birth)},
		{u.topics.Cmd, s.client.Subscribe(u.topics.Cmd, 1, u.onCommand)},
	}
	for _, st := range steps {
		if err := s.await(ctx, st.tok); err != nil {
			return fmt.Errorf("cannot set up the session on %q: %w", st.what, err)
		}
	}
	s.publishInventory()
	return nil
}

// await waits for one token outside the window.
func (s *session) await(ctx context.Context, tok mqtt.Token) error {
	t := time.NewTimer(s.u.cfg.AckTimeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-s.lost:
		return s.lostError()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return ErrAckTimeout
	}
}

// lose ends the session when paho reports the connection lost.
func (s *session) lose(err error) {
	s.loseOnce.Do(func() {
		s.mu.Lock()
		s.lostErr = err
		s.mu.Unlock()
		close(s.lost)
	})
}

// lostError says why the connection was lost.
func (s *session) lostError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Errorf("%w to broker %q: %w", ErrConnectionLost, s.u.cfg.Broker, s.lostErr)
}

// sessionLocks are the parts of a session that paho's goroutines touch.
type sessionLocks struct {
	mu       sync.Mutex
	dialErr  error
	lostErr  error
	loseOnce sync.Once
	lost     chan struct{} // closed when paho reports the connection lost
}
