package natstest

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PullDropper stands between clients and an embedded server and, once
// armed, drops the next pull request a client sends (a publish to
// $JS.API.CONSUMER.MSG.NEXT.*), as a cluster node does with a pull that
// arrives before a new consumer's interest has reached it. Only the client
// can notice, by the heartbeats that stop coming.
type PullDropper struct {
	srv   *server.Server
	armed atomic.Bool
	every atomic.Bool // drop every pull (a consumer no one answers for)
	drops atomic.Int64
	// Dropped receives when a pull request is left out (at most one
	// signal waits: a test that drops every pull counts Drops instead).
	Dropped chan struct{}
}

// NewPullDropper returns a dropper in front of srv, disarmed.
func NewPullDropper(srv *server.Server) *PullDropper {
	return &PullDropper{srv: srv, Dropped: make(chan struct{}, 1)}
}

// Arm makes the dropper leave out the next pull request.
func (p *PullDropper) Arm() { p.armed.Store(true) }

// DropEvery makes the dropper leave out every pull request from now on.
func (p *PullDropper) DropEvery() { p.every.Store(true) }

// Drops is how many pull requests the dropper has left out.
func (p *PullDropper) Drops() int64 { return p.drops.Load() }

// Connect returns a JetStream client whose connection goes through the
// dropper; it is closed when the test ends.
func (p *PullDropper) Connect(t testing.TB) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// InProcessConn implements nats.InProcessConnProvider: a pipe to the
// client, forwarded to and from one of the server's in-process
// connections.
func (p *PullDropper) InProcessConn() (net.Conn, error) {
	s, err := p.srv.InProcessConn()
	if err != nil {
		return nil, err
	}
	client, c := net.Pipe()
	go func() { _, _ = io.Copy(c, s); c.Close() }()
	go func() { p.clientToServer(c, s); s.Close() }()
	return client, nil
}

// clientToServer forwards the client's protocol line by line, with each
// PUB's or HPUB's payload, leaving out one pull request when armed.
func (p *PullDropper) clientToServer(c io.Reader, s io.Writer) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		var payload []byte
		if len(f) >= 3 && (f[0] == "PUB" || f[0] == "HPUB") {
			n, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				return
			}
			payload = make([]byte, n+2) // and its CRLF
			if _, err := io.ReadFull(r, payload); err != nil {
				return
			}
			if strings.HasPrefix(f[1], "$JS.API.CONSUMER.MSG.NEXT.") && (p.every.Load() || p.armed.CompareAndSwap(true, false)) {
				p.drops.Add(1)
				select {
				case p.Dropped <- struct{}{}:
				default: // a test that drops every pull reads Drops instead
				}
				continue
			}
		}
		if _, err := io.WriteString(s, line); err != nil {
			return
		}
		if _, err := s.Write(payload); err != nil {
			return
		}
	}
}
