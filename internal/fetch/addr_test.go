package fetch

import (
	"net/netip"
	"strings"
	"testing"
)

// TestForbiddenKindTranslationPrefixes covers the prefixes that embed an
// IPv4 address (mapped, translated, NAT64, 6to4) and the unspecified
// address: each is judged by what it would reach, so a private v4 hidden
// in a v6 literal is refused and a public one is not.
func TestForbiddenKindTranslationPrefixes(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"::ffff:0:0", "unspecified"},
		{"::ffff:0.0.0.0", "unspecified"},
		{"::ffff:10.1.2.3", "private"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:169.254.169.254", "cloud metadata"},
		{"::ffff:100.64.0.1", "carrier-grade NAT"},
		{"::ffff:0:7f00:1", "IPv4-translated"},
		{"::ffff:0:808:808", "IPv4-translated"},
		{"64:ff9b::10.0.0.1", "NAT64-embedded private"},
		{"64:ff9b::7f00:1", "NAT64-embedded loopback"},
		{"64:ff9b::a9fe:a9fe", "NAT64-embedded link-local (cloud metadata"},
		{"2002:a00:1::", "6to4-embedded private"},
		{"2002:c0a8:101::1", "6to4-embedded private"},
		{"2002:7f00:1::", "6to4-embedded loopback"},
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"::a00:1", "IPv4-compatible"},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := forbiddenKind(a); got == "" || !strings.Contains(got, tc.want) {
			t.Errorf("forbiddenKind(%s) = %q, want it to contain %q", tc.addr, got, tc.want)
		}
	}
	for _, ok := range []string{"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111", "93.184.216.34"} {
		if got := forbiddenKind(netip.MustParseAddr(ok)); got != "" {
			t.Errorf("forbiddenKind(%s) = %q, want allowed (public)", ok, got)
		}
	}
}

// TestDescribeNeverQuotesContent plants secrets in documents of several
// types: the reason names the type only.
func TestDescribeNeverQuotesContent(t *testing.T) {
	const secret = "OPENAI_API_KEY=sk-live-SECRET-1234567890"
	for _, tc := range []struct{ head, want string }{
		{"<!doctype html><html><body>" + secret + "</body></html>", "HTML document"},
		{secret + "\nDB_PASSWORD=hunter2hunter2\n", "plain text"},
		{`{"token": "` + secret + `"}`, "JSON"},
		{`[{"token": "` + secret + `"}]`, "JSON"},
		{"<?xml version=\"1.0\"?><a>" + secret + "</a>", "XML"},
		{"\x89PNG\r\n\x1a\n" + secret, "image/png"},
		{"PK\x03\x04" + secret, "ZIP archive"},
		{"\x00\x01\x02\x03" + secret, "binary"},
		{"", "empty"},
	} {
		err := notPDF([]byte(tc.head), "text/plain; charset=utf-8")
		msg := err.Error()
		if !strings.Contains(msg, tc.want) {
			t.Errorf("notPDF(%.20q) = %q, want %q", tc.head, msg, tc.want)
		}
		for _, leak := range []string{"sk-live", "SECRET", "hunter2", "OPENAI", "token"} {
			if strings.Contains(msg, leak) {
				t.Errorf("notPDF(%.20q) = %q quotes the content (%q)", tc.head, msg, leak)
			}
		}
	}
}
