package jsstore_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/events/jsstore"
)

// pullDropper is a TCP proxy in front of a NATS server that drops the next
// pull request (a publish to $JS.API.CONSUMER.MSG.NEXT.*) a client sends
// once armed, as a cluster node does with a pull that arrives before the
// consumer's interest has reached it.
type pullDropper struct {
	ln      net.Listener
	target  string
	armed   atomic.Int32
	dropped chan struct{}
}

func newPullDropper(t *testing.T, target string) *pullDropper {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pullDropper{ln: ln, target: target, dropped: make(chan struct{}, 1)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() { _, _ = io.Copy(c, s); c.Close() }()
			go func() { p.clientToServer(c, s); s.Close() }()
		}
	}()
	return p
}

func (p *pullDropper) url() string { return "nats://" + p.ln.Addr().String() }

// clientToServer forwards the client's protocol line by line, with each
// PUB's or HPUB's payload, leaving out one pull request when armed.
func (p *pullDropper) clientToServer(c io.Reader, s io.Writer) {
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
			if strings.HasPrefix(f[1], "$JS.API.CONSUMER.MSG.NEXT.") && p.armed.CompareAndSwap(1, 0) {
				p.dropped <- struct{}{}
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

// A follower whose pull request was lost gets the log again within a few
// heartbeats: it notices the silence after two missed ones and pulls anew.
// With the client's default heartbeat for ordered consumers (5 s) the
// event below came after about 10 s; with jsstore.PullHeartbeat (1 s),
// after about 2 s. The bound of 6 s tells the two apart with room for a
// loaded machine.
func TestFollowRecoversFromALostPull(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(srv.Shutdown)
	proxy := newPullDropper(t, srv.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	open := func(url string) *jsstore.Store {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		s, err := jsstore.Open(ctx, js, jsstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	writer := open(srv.ClientURL())
	reader := open(proxy.url())

	proxy.armed.Store(1)
	got := make(chan events.Envelope, 1)
	go func() {
		_ = reader.Follow(ctx, events.SubjectAll, 1, func(env events.Envelope) error {
			got <- env
			return nil
		})
	}()
	select {
	case <-proxy.dropped:
	case <-ctx.Done():
		t.Fatal("the follower never pulled")
	}
	env, _ := events.New("batch-1-lost", events.System, events.JobPaused{})
	if _, err := writer.Append(ctx, env, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if e.ID != env.ID {
			t.Fatalf("followed %s, want %s", e.ID, env.ID)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("the follower whose pull was lost still had nothing 6 s after the append")
	}
}
