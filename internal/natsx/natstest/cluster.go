package natstest

// Clusters: real 3-node JetStream inside the test process, so cluster
// behaviour (R3 streams, leader loss) is tested against the real server.

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
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

// FreePort returns a port nothing listens on, below the kernel's
// ephemeral range and never handed out before by this process. A port the
// kernel picks (Listen on :0) comes from the range it also gives outgoing
// connections, and the first nodes of a cluster connect out to their peers
// (and clients to them) before the last node binds its reserved ports:
// such a connection took one of them once, and that node never started
// ("node 2 not ready" in CI). Another process could still take the port
// before the server binds; on a test machine that is rare enough.
func FreePort(t testing.TB) int {
	t.Helper()
	lo := ephemeralLow()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		p := 10000 + rand.IntN(lo-10000)
		if portsGiven[p] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		ln.Close()
		portsGiven[p] = true
		return p
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// ephemeralLow is the first port of Linux's ephemeral range (32768 when it
// cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo <= 11000 {
		return 32768
	}
	return lo
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
		routePorts[i] = FreePort(t)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i]))
	}
	for i := 0; i < n; i++ {
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: FreePort(t),
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
	if !s.ReadyForConnections(30 * time.Second) { // a loaded CI machine is slow to start JetStream
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
