package events_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
)

var update = flag.Bool("update", false, "write golden fixtures for versions that have none (never rewrites one)")

// golden is what each committed fixture must decode to, per type and
// version. A new version of a type adds an entry (and a fixture); old
// entries stay forever, as the events they stand for do.
var golden = map[string]map[int]events.Event{
	events.TypeDocumentsSubmitted: {1: &events.DocumentsSubmitted{InputID: "in-1", Chunk: 0, Documents: []events.Document{
		{Row: 0, Title: "Circular 12", FilePath: "https://example.org/c12.pdf", SourceType: "url",
			Description: "water supply", Extra: map[string]any{"district": "Pune", "year": float64(2024)}},
		{Row: 1, FilePath: "notice.pdf", SourceType: "local"},
	}},
		// v2: the document data sealed under the job's data key; rows and
		// source types stay in the clear.
		2: &events.DocumentsSubmitted{InputID: "in-1", Chunk: 0, Documents: []events.Document{
			{Row: 0, SourceType: "url"}, {Row: 1, SourceType: "local"},
		}, Sealing: events.Sealing{Sealed: goldenBlob}}},
	events.TypeJobStarted: {1: &events.JobStarted{InputID: "in-1", Chunks: 1, Total: 2,
		Config: events.JobConfig{Model: "openai/gpt-4o-mini", NumPages: 3, NumTags: 8,
			ExclusionWords: []string{"government"}, KeySource: "job"},
		ColumnMapping: map[string]string{"url": "file_path"}, RequestDigest: "3f1c0a"},
		// v2: the digest (and input id) keyed by the job's data key.
		2: &events.JobStarted{InputID: "9b2e51c07d44a1e8f0c3b6a2d95e7f14", Chunks: 1, Total: 2,
			Config:        events.JobConfig{Model: "openai/gpt-4o-mini", NumPages: 3, NumTags: 8, KeySource: "server"},
			RequestDigest: "9b2e51c07d44a1e8f0c3b6a2d95e7f14c8a06e3b5f2d19a7e4c0b8f361d2a5e9", DigestKey: events.DigestKeyJob,
			Columns: []string{"title", "url"}, OrgID: "org_7c1e"}},
	events.TypeJobPaused:    {1: &events.JobPaused{Reason: "lunch"}},
	events.TypeJobResumed:   {1: &events.JobResumed{Reason: "back"}},
	events.TypeJobCancelled: {1: &events.JobCancelled{Reason: "wrong batch"}},
	events.TypeJobCompleted: {1: &events.JobCompleted{Processed: 1, Failed: 1, Cancelled: 0}},
	events.TypeJobFailed:    {1: &events.JobFailed{Reason: "the API key was rejected", Code: "llm_auth"}},
	events.TypeJobRetried: {1: &events.JobRetried{Attempt: 2, Rows: []int{1}, IncludeCancelled: true, Reason: "new key",
		Config: events.JobConfig{Model: "openai/gpt-4o", NumPages: 3, NumTags: 8, KeySource: "server"}}},
	events.TypeDocumentStarted: {1: &events.DocumentStarted{Row: 1, Attempt: 2}},
	events.TypeDocumentTagged: {1: &events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{"water supply", "pune"},
		Metadata: events.TagMetadata{Method: "text", PagesRead: 3, PageCount: 5, TextLength: 4210, Model: "openai/gpt-4o-mini",
			PromptTokens: 1200, CompletionTokens: 40, TotalTokens: 1240, Calls: 1, DurationMS: 812}},
		2: &events.DocumentTagged{Row: 0, Attempt: 1,
			Metadata: events.TagMetadata{Method: "text", PagesRead: 3, PageCount: 5, TextLength: 4210, Model: "openai/gpt-4o-mini",
				PromptTokens: 1200, CompletionTokens: 40, TotalTokens: 1240, Calls: 1, DurationMS: 812},
			Sealing: events.Sealing{Sealed: goldenBlob}}},
	events.TypeDocumentFailed: {1: &events.DocumentFailed{Row: 1, Attempt: 1, Error: "no extractable text; OCR needed (the pages are images)",
		Code: "scanned", Metadata: events.TagMetadata{Method: "scanned", PagesRead: 2, PageCount: 2, DurationMS: 95}},
		2: &events.DocumentFailed{Row: 1, Attempt: 1, Code: "fetch",
			Metadata: events.TagMetadata{DurationMS: 95}, Sealing: events.Sealing{Sealed: goldenBlob}}},
	events.TypeDocumentReleased: {1: &events.DocumentReleased{Row: 3, Attempt: 1,
		Reason: "cannot reach the model endpoint https://llm.example.org: connection refused", Code: "model_unreachable"},
		2: &events.DocumentReleased{Row: 3, Attempt: 1, Code: "model_unreachable", Sealing: events.Sealing{Sealed: goldenBlob}}},
	events.TypeWebhookAttempted: {1: &events.WebhookAttempted{EventSeq: 41, WebhookID: "msg_job-1_41", Kind: "job.completed",
		Attempt: 2, StatusCode: 503, Error: "receiver answered 503 Service Unavailable",
		NextAt: func() *time.Time { t := time.Date(2026, 12, 2, 3, 40, 0, 0, time.UTC); return &t }()}},
	events.TypeJobErased:    {1: &events.JobErased{Reason: "erasure request #4411"}},
	events.TypeLegalHoldSet: {1: &events.LegalHoldSet{On: true, Reason: "litigation 2026-17"}},
	events.TypeOrgCreated:   {1: &events.OrgCreated{Name: "Pune Municipal Records"}},
	events.TypeOrgMemberAdded: {1: &events.OrgMemberAdded{Email: "asha@example.org", Role: "auditor", UserID: "usr_4f2a"},
		2: &events.OrgMemberAdded{Email: "ravi@example.org", Role: "member", UserID: "usr_9c1d", Reason: "sso"}},
	events.TypeOrgMemberRoleChanged: {1: &events.OrgMemberRoleChanged{Email: "asha@example.org", From: "auditor", To: "operator"},
		2: &events.OrgMemberRoleChanged{Email: "ravi@example.org", From: "member", To: "auditor", Reason: "sso"}},
	events.TypeOrgMemberRemoved: {1: &events.OrgMemberRemoved{Email: "asha@example.org", Role: "operator"},
		2: &events.OrgMemberRemoved{Email: "ravi@example.org", Role: "auditor", Reason: "sso"}},
	events.TypeOrgSettingsChanged: {1: &events.OrgSettingsChanged{RetentionDays: 30,
		CallbackURL: "https://hooks.example.org/tagstream", Changed: []string{"retention_days", "callback_url"}}},
}

// goldenBlob stands for a sealed blob: its bytes are opaque to events.
var goldenBlob = []byte{1, 0x9e, 0x41, 0x07, 0xc2, 0x55, 0x10, 0xfa, 0x3b, 0x88, 0x6d, 0x21, 0x04, 0xe7, 0x5a, 0x90, 0x13}

func goldenPath(typ string, v int) string {
	return filepath.Join("testdata", "golden", fmt.Sprintf("%s.v%d.json", typ, v))
}

// Every stored type, at every version up to its current one, has a
// committed fixture (a whole envelope as stored) that still decodes to
// the struct it was written from. A type or version without a fixture, or
// a change to a struct that breaks an old fixture, fails here.
func TestGoldenFixtures(t *testing.T) {
	for _, typ := range events.Types.Types() {
		want, ok := golden[typ]
		if !ok {
			t.Errorf("%s has no golden entry: add one (and its fixture) in golden_test.go", typ)
			continue
		}
		for v := 1; v <= events.Types.Version(typ); v++ {
			t.Run(fmt.Sprintf("%s.v%d", typ, v), func(t *testing.T) {
				exp, ok := want[v]
				if !ok {
					t.Fatalf("no expected value for %s v%d", typ, v)
				}
				path := goldenPath(typ, v)
				raw, err := os.ReadFile(path)
				if os.IsNotExist(err) && *update && v == events.Types.Version(typ) {
					raw = writeFixture(t, path, exp)
				} else if err != nil {
					t.Fatalf("%s v%d has no fixture %s (run go test -run TestGoldenFixtures -update once, then commit it): %v", typ, v, path, err)
				}
				env, err := events.Unmarshal(raw, 7, "jobs.job-1.x")
				if err != nil {
					t.Fatal(err)
				}
				if env.Type != typ || env.Version != v || env.JobID != "job-1" || env.ID == "" || env.Time.IsZero() {
					t.Fatalf("fixture envelope: %+v", env)
				}
				got, err := env.Decode()
				if err != nil {
					t.Fatalf("fixture no longer decodes: %v", err)
				}
				if !reflect.DeepEqual(got, exp) {
					t.Fatalf("fixture decodes to\n%#v\nwant\n%#v", got, exp)
				}
			})
		}
	}
	for typ := range golden {
		if events.Types.Version(typ) == 0 {
			t.Errorf("golden entry for %s, which is not a registered type", typ)
		}
	}
}

// writeFixture stores a new version's envelope, as New writes it, with
// fixed id and time so the file is stable.
func writeFixture(t *testing.T, path string, ev events.Event) []byte {
	env, err := events.New("job-1", events.User("u-1", "ana@example.org"), ev)
	if err != nil {
		t.Fatal(err)
	}
	env.ID = "0123456789abcdef0123456789abcdef"
	env.Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	raw, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	raw = append(raw, '\n')
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
	return raw
}
