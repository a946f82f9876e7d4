package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/webhook"
)

// verify is the Standard Webhooks check written from the specification,
// not from package webhook: HMAC-SHA256 keyed with the base64 part of
// the secret, over "id.timestamp.body", any "v1," signature matching.
func verify(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if id == "" || ts == "" {
		return fmt.Errorf("missing headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return err
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp outside tolerance")
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no valid signature")
}

func TestSendIsSignedTheStandardWay(t *testing.T) {
	secretText := webhook.NewSecret()
	secret, err := webhook.ParseSecret(secretText)
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		err  error
		body []byte
	}
	ch := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- got{verify(secretText, r.Header, b), b}
	}))
	defer srv.Close()
	s := webhook.NewSender(webhook.Config{Secret: secret, AllowPrivate: true})
	p := webhook.Payload{Type: "job.completed", JobID: "job-1", Status: "completed", Timestamp: time.Now().UTC()}
	res := s.Send(context.Background(), srv.URL+"/hook?token=abc", "msg_job-1_7", p)
	if res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("send: %+v", res)
	}
	g := <-ch
	if g.err != nil {
		t.Fatalf("receiver could not verify: %v", g.err)
	}
	var back map[string]any
	if err := json.Unmarshal(g.body, &back); err != nil {
		t.Fatal(err)
	}
	if back["type"] != "job.completed" || back["job_id"] != "job-1" || back["status"] != "completed" || back["timestamp"] == nil || len(back) != 4 {
		t.Fatalf("body = %s", g.body)
	}

	// A signature under another secret must not verify: the check above can fail.
	other := webhook.NewSecret()
	h := http.Header{}
	h.Set("webhook-id", "msg_job-1_7")
	h.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	h.Set("webhook-signature", secret.Sign("msg_job-1_7", time.Now(), g.body))
	if err := verify(other, h, g.body); err == nil {
		t.Fatal("a signature verified under the wrong secret")
	}
}

func TestSendReportsFailuresWithoutTheURL(t *testing.T) {
	secret, _ := webhook.ParseSecret(webhook.NewSecret())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	s := webhook.NewSender(webhook.Config{Secret: secret, AllowPrivate: true})
	p := webhook.Payload{Type: "job.failed", JobID: "j", Status: "failed", Timestamp: time.Now()}
	res := s.Send(context.Background(), srv.URL+"/x?token=s3cr3t", "id", p)
	if res.StatusCode != 503 || res.Err == nil || strings.Contains(res.Err.Error(), "s3cr3t") {
		t.Fatalf("503: %+v", res)
	}
	res = s.Send(context.Background(), srv.URL+"/redirect", "id", p)
	if res.StatusCode != http.StatusFound || res.Err == nil {
		t.Fatalf("a redirect was followed or counted as success: %+v", res)
	}
}

func TestPrivateAddressesRefusedUnlessAllowed(t *testing.T) {
	secret, _ := webhook.ParseSecret(webhook.NewSecret())
	hit := make(chan struct{}, 4)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit <- struct{}{} }))
	defer srv.Close()
	s := webhook.NewSender(webhook.Config{Secret: secret})
	p := webhook.Payload{Type: "job.completed", JobID: "j", Status: "completed", Timestamp: time.Now()}
	// A host name, so the refusal comes from the dial-time address check.
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/hook?token=s3cr3t"
	res := s.Send(context.Background(), u, "id", p)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "refused") || strings.Contains(res.Err.Error(), "s3cr3t") {
		t.Fatalf("localhost: %+v", res)
	}
	for _, bad := range []string{srv.URL, "http://example.org/hook", "https://user:pw@example.org/", "ftp://example.org/", "not a url", "https://10.0.0.1/h"} {
		if err := webhook.CheckURL(bad, false); err == nil {
			t.Errorf("CheckURL(%q) accepted", bad)
		}
	}
	if err := webhook.CheckURL("https://hooks.example.org/x?t=1", false); err != nil {
		t.Errorf("public https refused: %v", err)
	}
	if err := webhook.CheckURL("http://127.0.0.1:8080/h", true); err != nil {
		t.Errorf("allowed private refused: %v", err)
	}
	select {
	case <-hit:
		t.Fatal("the private receiver was reached")
	default:
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	text := webhook.NewSecret()
	s, err := webhook.ParseSecret(text)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimPrefix(text, "whsec_")
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s)} {
		if strings.Contains(out, key) {
			t.Fatalf("secret printed: %s", out)
		}
	}
	for _, bad := range []string{"", "abc", "whsec_!!", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := webhook.ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted", bad)
		}
	}
}
