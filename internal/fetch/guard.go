package fetch

import (
	"context"
	"net"
	"net/url"
)

// CheckURL applies the URL and literal-address rules that need no
// network. Other outbound clients (webhooks) call it so every request
// Tagstream makes to a user-given URL follows one set of rules.
func (f *Fetcher) CheckURL(raw string) (*url.URL, error) { return f.validateURL(raw) }

// DialContext dials under the fetcher's address rules (resolved once,
// every address checked, the socket address checked again), for use as
// an http.Transport's DialContext by other outbound clients.
func (f *Fetcher) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f.dialContext(ctx, network, addr)
}
