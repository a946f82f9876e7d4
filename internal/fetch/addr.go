package fetch

import (
	"net/netip"
	"strconv"
	"strings"
)

const allowHint = "(set TAGSTREAM_FETCH_ALLOW_PRIVATE=true to allow)"

var metadataV4 = netip.MustParseAddr("169.254.169.254")

// blocked lists special-purpose ranges that netip has no predicate for.
// None of them hosts documents on the public internet, and several reach
// infrastructure (CGNAT gateways, NAT64 to internal v4, the 0/8 "this host").
var blocked = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},  // includes 255.255.255.255
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"}, // includes :: (::/128) and ::1
	// SIIT "IPv4-translated" addresses (RFC 2765) reach v4 hosts through a
	// translator; no public document server is addressed that way.
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol"}, // Teredo, benchmarking, ORCHID
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
}

var (
	// v4Mapped is unmapped before any other check, so that an embedded
	// private v4 is judged as that v4; forbiddenKind also checks the prefix
	// explicitly in case a caller hands it an address Unmap did not reduce.
	v4Mapped  = netip.MustParsePrefix("::ffff:0:0/96")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// forbiddenKind returns "" when a may be dialled without AllowPrivate, or a
// short adjective naming why not ("loopback", "private", ...).
func forbiddenKind(a netip.Addr) string {
	a = a.WithZone("")
	if v4Mapped.Contains(a) {
		b := a.As16()
		if k := forbiddenKind(netip.AddrFrom4([4]byte(b[12:16]))); k != "" {
			return "IPv4-mapped " + k
		}
		return ""
	}
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a == metadataV4:
		return "link-local (cloud metadata service)"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsPrivate():
		return "private"
	case a.IsMulticast():
		return "multicast"
	}
	for _, b := range blocked {
		if b.prefix.Contains(a) {
			return b.kind
		}
	}
	// Translation prefixes embed an IPv4 address that a gateway would
	// forward to, so they are only as safe as that address.
	if nat64.Contains(a) {
		b := a.As16()
		if k := forbiddenKind(netip.AddrFrom4([4]byte(b[12:16]))); k != "" {
			return "NAT64-embedded " + k
		}
	}
	if sixToFour.Contains(a) {
		b := a.As16()
		if k := forbiddenKind(netip.AddrFrom4([4]byte(b[2:6]))); k != "" {
			return "6to4-embedded " + k
		}
	}
	return ""
}

// article returns "a" or "an" for an adjective.
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiouAEIOU", rune(word[0])) {
		return "an"
	}
	return "a"
}

// literalRefusal is the reason for a URL whose host is an IP literal.
func literalRefusal(host string, kind string) string {
	return "refused: " + host + " is " + article(kind) + " " + kind + " address " + allowHint
}

// resolvedRefusal is the reason for a host name that resolved to a
// forbidden address.
func resolvedRefusal(host string, a netip.Addr, kind string) string {
	return "refused: " + host + " resolves to " + kind + " address " + a.String() + " " + allowHint
}

// endsInNumber reports whether host would be read as an IPv4 address by
// WHATWG URL parsers and inet_aton: its last label is a decimal or 0x-hex
// number. No real TLD is numeric, so such a host is never a DNS name.
func endsInNumber(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if i := strings.LastIndexByte(host, '.'); i >= 0 {
		host = host[i+1:]
	}
	if host == "" {
		return false
	}
	if h, ok := strings.CutPrefix(strings.ToLower(host), "0x"); ok {
		host = h
		if host == "" {
			return true
		}
		for _, c := range host {
			if !strings.ContainsRune("0123456789abcdef", c) {
				return false
			}
		}
		return true
	}
	for _, c := range host {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseLegacyIPv4 parses host the way inet_aton does: one to four parts,
// each decimal, octal (leading 0) or hex (0x), the last filling the
// remaining bytes. We need it because resolvers disagree about such hosts
// ("2130706433", "0177.0.0.1", "127.1"), and disagreement is how address
// checks get bypassed.
func parseLegacyIPv4(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(host, ".")
	parts := strings.Split(host, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals []uint64
	for _, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base := 10
		lp := strings.ToLower(p)
		switch {
		case strings.HasPrefix(lp, "0x"):
			base, lp = 16, lp[2:]
			if lp == "" {
				lp = "0"
			}
		case len(lp) > 1 && lp[0] == '0':
			base, lp = 8, lp[1:]
		}
		v, err := strconv.ParseUint(lp, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals = append(vals, v)
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}
