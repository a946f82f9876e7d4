package natsx_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tagstream/tagstream/internal/natsx"
	"github.com/tagstream/tagstream/internal/natsx/natstest"
)

func connect(t *testing.T, url string) *natsx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := natsx.Connect(ctx, natsx.Config{URL: url, Auth: natsx.Auth{User: "u", Password: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// A process given one URL of a fresh cluster, connecting before the nodes
// are routed, still learns that the cluster has three nodes.
func TestReplicasOnFreshClusterFromOneURL(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test skipped in -short mode")
	}
	c := natstest.NewCluster(t, 3)
	for i := range c.Servers {
		c.Start(i) // no wait for routes: connect while they form
	}
	if n := connect(t, c.ClientURL(0)).Replicas(); n != 3 {
		t.Fatalf("replicas from one URL of a fresh 3-node cluster: %d, want 3", n)
	}
	if n := connect(t, c.URL()).Replicas(); n != 3 {
		t.Fatalf("replicas from every URL: %d, want 3", n)
	}
}

// A process that starts while a node is down must not scale existing R3
// streams down (CreateOrUpdateStream would apply a smaller replica count).
func TestReplicasKeepExistingStreamsWhileANodeIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test skipped in -short mode")
	}
	c := natstest.StartCluster(t, 3)
	first := connect(t, c.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := first.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: first.Replicas()}); err != nil {
		t.Fatal(err)
	}
	first.Close()
	c.Stop(2)
	if n := connect(t, c.ClientURL(0)).Replicas(); n != 3 {
		t.Fatalf("replicas with a node down and an R3 stream present: %d, want 3", n)
	}
}

func TestReplicasSingleServer(t *testing.T) {
	ns, err := natsx.StartEmbedded(t.TempDir(), "127.0.0.1:0", natsx.Auth{User: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	url := ns.ClientURL()
	// Three URLs naming one server are still one server.
	if n := connect(t, url+","+url+","+url).Replicas(); n != 1 {
		t.Fatalf("replicas on a single server: %d, want 1", n)
	}
}
