package natstest

// Clusters: real 3-node JetStream inside the test process, so cluster
// behaviour (R3 streams, leader loss) is tested against the real server.

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is n embedded JetStream servers routed to each other on
// 127.0.0.1. Ports are reserved up front so every node knows every route
// before any of them starts, and so a stopped node restarts on its port.
type Cluster struct {
	t       testing.TB
	Servers []*server.Server // nil while a node is stopped
	opts    []*server.Options
}

// freePort asks the kernel for an unused port. Another process could take
// it before the server binds; on a test machine that is rare enough.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartCluster starts n nodes, each with its own store dir, and waits until
// they are routed to each other. The cluster stops when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := NewCluster(t, n)
	for i := range c.opts {
		c.Start(i)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range c.Servers {
		for s.NumRoutes() < n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("cluster routes did not form: %s has %d", s.Name(), s.NumRoutes())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c
}

// NewCluster prepares n nodes without starting any (see Start).
func NewCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Servers: make([]*server.Server, n)}
	routePorts := make([]int, n)
	var routes []string
	for i := range routePorts {
		routePorts[i] = freePort(t)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i]))
	}
	for i := 0; i < n; i++ {
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: freePort(t),
			JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "tagstream-test", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		})
	}
	t.Cleanup(func() {
		for i := range c.Servers {
			c.Stop(i)
		}
	})
	return c
}

// Start (re)starts node i on its ports and store dir.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	s, err := server.NewServer(c.opts[i])
	if err != nil {
		c.t.Fatalf("node %d: %v", i, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		c.t.Fatalf("node %d not ready", i)
	}
	c.Servers[i] = s
}

// Stop shuts node i down at once: clients and routes see their connections
// drop, as when the machine dies (the store stays for a restart).
func (c *Cluster) Stop(i int) {
	if s := c.Servers[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.Servers[i] = nil
	}
}

// Index returns the node whose server name is name, or -1.
func (c *Cluster) Index(name string) int {
	for i, o := range c.opts {
		if o.ServerName == name {
			return i
		}
	}
	return -1
}

// URL lists every node's client URL, comma separated (TAGSTREAM_NATS_URL).
func (c *Cluster) URL() string {
	var urls []string
	for i := range c.opts {
		urls = append(urls, c.ClientURL(i))
	}
	return strings.Join(urls, ",")
}

// ClientURL is node i's client URL.
func (c *Cluster) ClientURL(i int) string {
	return fmt.Sprintf("nats://127.0.0.1:%d", c.opts[i].Port)
}
