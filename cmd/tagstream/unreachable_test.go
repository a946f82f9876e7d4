package main

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/llm/llmfake"
	jobpkg "github.com/tagstream/tagstream/services/job"
)

// unreachableJob starts a 50-document job (the same file each time, so
// with the cache off) against the environment's model.
func unreachableJob(t *testing.T, e *env, docsURL string) (user, string) {
	u := e.register("alice@example.com")
	docs := make([]any, 50)
	for i := range docs {
		docs[i] = map[string]any{"file_path": docsURL + "/circular-water.pdf"}
	}
	job := e.mustCall("POST", "/api/batch/start", u.token, map[string]any{"documents": docs,
		"config": map[string]any{"api_key": "sk-test", "model_name": "openai/gpt-4o-mini", "ocr": "off", "cache": false}}, 200)["job_id"].(string)
	return u, job
}

// documentEvents counts the job's DocumentStarted and DocumentFailed events.
func documentEvents(e *env, job string) (started, failed int) {
	for _, env := range e.history(job) {
		switch env.Type {
		case events.TypeDocumentStarted:
			started++
		case events.TypeDocumentFailed:
			failed++
		}
	}
	return started, failed
}

// A model endpoint that never answered (nothing listens on the port, or
// its name does not resolve) fails the job after a few documents, with a
// reason that names the endpoint and the cause, and no document burned
// one by one.
func TestUnreachableModelFailsTheJobFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	cases := []struct{ name, base, want string }{
		{"closed port", "http://" + closed + "/v1", "cannot reach the model endpoint http://" + closed + ": connection refused"},
		{"unresolvable host", "http://nonexistent.invalid/v1", "cannot reach the model endpoint http://nonexistent.invalid: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			docsSrv := corpusServer(t)
			e := pipelineEnv(t, tc.base)
			u, job := unreachableJob(t, e, docsSrv.URL)
			st := e.waitStatus(u, job, 60*time.Second, "failed", "completed", "paused")
			reason, _ := st["reason"].(string)
			if st["status"] != "failed" || st["reason_code"] != jobpkg.CodeModelUnreachable || !strings.HasPrefix(reason, tc.want) {
				t.Fatalf("status %v reason_code %v reason %q, want failed model_unreachable %q", st["status"], st["reason_code"], reason, tc.want)
			}
			started, failed := documentEvents(e, job)
			// Each document tries the endpoint twice at most (internal/llm);
			// the job stops after UnreachableLimit documents, plus those
			// already in flight on the other worker slots.
			if limit := jobpkg.UnreachableLimit + 2*e.cfg.Workers; started > limit || started < jobpkg.UnreachableLimit {
				t.Fatalf("%d documents started of 50, want %d..%d", started, jobpkg.UnreachableLimit, limit)
			}
			if failed != 0 {
				t.Fatalf("%d documents failed one by one", failed)
			}
		})
	}
}

// An endpoint that worked and then goes away pauses the job (resumable
// once it is back): no document fails, and status says why.
func TestModelGoneAwayPausesTheJob(t *testing.T) {
	docsSrv := corpusServer(t)
	llm := llmfake.New(t, llmfake.Options{Latency: 20 * time.Millisecond})
	e := pipelineEnv(t, llm.BaseURL())
	u, job := unreachableJob(t, e, docsSrv.URL)
	waitFor(t, "some documents tagged", func() bool {
		n, _ := e.status(u, job)["processed_count"].(float64)
		return n >= 3
	})
	addr := llm.Addr()
	llm.Close() // closes the listener and every connection: refused from now on
	st := e.waitStatus(u, job, 60*time.Second, "paused", "failed", "completed")
	reason, _ := st["reason"].(string)
	want := "cannot reach the model endpoint http://" + addr + ": connection refused"
	if st["status"] != "paused" || st["reason_code"] != jobpkg.CodeModelUnreachable || reason != want {
		t.Fatalf("status %v reason_code %v reason %q, want paused %q", st["status"], st["reason_code"], reason, want)
	}
	if st["failed_count"].(float64) != 0 {
		t.Fatalf("%v documents failed, want 0", st["failed_count"])
	}
	_, failed := documentEvents(e, job)
	if failed != 0 {
		t.Fatalf("%d DocumentFailed events", failed)
	}
	var pause events.Envelope
	for _, env := range e.history(job) {
		if env.Type == events.TypeJobPaused {
			pause = env
		}
	}
	if pause.Actor.Kind != events.ActorSystem {
		t.Fatalf("paused by %+v, want the system", pause.Actor)
	}
	// Resumed while the endpoint is still down, the job pauses again, as
	// often as that happens: the documents it gave back are released, not
	// deaths, so none of them is ever quarantined as poison.
	for i := 0; i < jobpkg.PoisonAfter+1; i++ {
		e.mustCall("POST", "/api/batch/jobs/"+job+"/resume", u.token, map[string]any{"reason": "try again"}, http.StatusOK)
		e.waitStatus(u, job, 60*time.Second, "paused")
	}
	released := 0
	for _, env := range e.history(job) {
		switch env.Type {
		case events.TypeDocumentFailed:
			t.Fatalf("a document failed while the model was away: %s", env.Data)
		case events.TypeDocumentReleased:
			released++
		}
	}
	if released == 0 {
		t.Fatal("no DocumentReleased: documents given back were recorded as nothing")
	}
}
