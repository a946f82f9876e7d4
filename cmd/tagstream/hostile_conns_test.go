package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/internal/httpapi"
)

// TestRegistrationFloodFromOneAddressIsThrottled registers accounts in a
// loop against serve (real auth, real HTTP, all from 127.0.0.1). Attempts
// count whether or not they succeed, so the flood uses a too-short
// password (no bcrypt: the loop stays far quicker than the refill): after
// the address's burst it gets 429 with Retry-After, while a client from
// another address (127.0.0.2) still registers.
func TestRegistrationFloodFromOneAddressIsThrottled(t *testing.T) {
	e := startEnv(t, testConfig(t), &fakeTagger{})
	passed, limited := 0, false
	for i := range 3 * httpapi.DefaultRegisterRate {
		st, body := e.call("POST", "/api/auth/register", "",
			map[string]any{"email": fmt.Sprintf("sock%d@example.com", i), "password": "short"})
		if st != http.StatusTooManyRequests {
			passed++
			continue
		}
		detail, _ := body["detail"].(string)
		if body["code"] != "rate_limited" || !strings.Contains(detail, "per client address") {
			t.Fatalf("registration %d: %d %v", i, st, body)
		}
		limited = true
	}
	if !limited || passed >= 2*httpapi.DefaultRegisterRate {
		t.Fatalf("%d of %d registrations from one address got through (limited=%v); want the burst of %d and then 429",
			passed, 3*httpapi.DefaultRegisterRate, limited, httpapi.DefaultRegisterRate)
	}
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	defer other.CloseIdleConnections()
	resp, err := other.Post(e.url+"/api/auth/register", "application/json",
		bytes.NewReader([]byte(`{"email":"elsewhere@example.com","password":"correct-horse-1"}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("registration from another address: %d", resp.StatusCode)
	}
}
