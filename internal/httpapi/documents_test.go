package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/auth"
	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/projections"
)

// tokenAuth verifies a token as the user of that name: "alice", "bob",
// or "audit" (an auditor).
type tokenAuth struct{ Authenticator }

func (tokenAuth) Verify(_ context.Context, token string) (auth.Claims, error) {
	role := auth.RoleUser
	if token == "audit" {
		role = auth.RoleAuditor
	}
	return auth.Claims{UserID: token, Email: token + "@example.com", Role: role}, nil
}

// searchModel is a SQLite document-search model with events applied by
// hand, as its runner would apply them.
func searchModel(t *testing.T, envs ...events.Envelope) *projections.SearchReader {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m := projections.NewDocumentSearch()
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Create(ctx, tx, projections.SearchTables); err != nil {
		t.Fatal(err)
	}
	for i, env := range envs {
		env.Seq = uint64(i + 1)
		if err := m.Apply(ctx, tx, projections.SearchTables, env); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return &projections.SearchReader{DB: db}
}

// tagged is a job of owner whose documents (titles) were all tagged with tags.
func tagged(t *testing.T, job, owner string, at time.Time, tags []string, titles ...string) []events.Envelope {
	t.Helper()
	docs := make([]events.Document, len(titles))
	for i, title := range titles {
		docs[i] = events.Document{Row: i, Title: title, FilePath: title + ".pdf"}
	}
	evs := []events.Event{events.DocumentsSubmitted{InputID: job + "-in", Documents: docs},
		events.JobStarted{InputID: job + "-in", Total: len(docs)}}
	for i := range docs {
		evs = append(evs, events.DocumentTagged{Row: i, Attempt: 1, Tags: tags, Metadata: events.TagMetadata{Model: "m"}})
	}
	evs = append(evs, events.JobCompleted{Processed: len(docs)})
	var out []events.Envelope
	for _, ev := range evs {
		env, err := events.New(job, events.User(owner, owner+"@example.com"), ev)
		if err != nil {
			t.Fatal(err)
		}
		env.Time = at
		out = append(out, env)
	}
	return out
}

func getJSON(t *testing.T, ts string, token, path string, want int) map[string]any {
	t.Helper()
	resp := get(t, ts, token, path)
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("GET %s = %d %v, want %d", path, resp.StatusCode, body, want)
	}
	return body
}

func get(t *testing.T, ts, token, path string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func docTitles(body map[string]any) []string {
	var out []string
	for _, d := range body["documents"].([]any) {
		out = append(out, d.(map[string]any)["title"].(string))
	}
	return out
}

func searchServer(t *testing.T) string {
	t.Helper()
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	envs := tagged(t, "job-a", "alice", at, []string{"transport"}, "Railway circular", "=HYPERLINK(x) railway", "रेलवे परिपत्र")
	envs = append(envs, tagged(t, "job-b", "bob", at.Add(time.Hour), []string{"transport"}, "Railway timetable")...)
	ts := serveReal(t, Deps{Auth: tokenAuth{}, Documents: searchModel(t, envs...), Jobs: jobModel(t, envs...)})
	t.Cleanup(func() { closeIdle(http.DefaultClient) })
	return ts.URL
}

// jobModel is the job-status model (in memory) of envs: search hits pass
// the access policy through their job.
func jobModel(t *testing.T, envs ...events.Envelope) *projections.JobStatus {
	t.Helper()
	jobs := projections.NewJobStatus()
	for i, env := range envs {
		env.Seq = uint64(i + 1)
		if err := env.Load(); err != nil {
			t.Fatal(err)
		}
		if err := jobs.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
	return jobs
}

func TestDocumentsAreScopedToTheCaller(t *testing.T) {
	ts := searchServer(t)
	if got := docTitles(getJSON(t, ts, "alice", "/api/documents?q=railway", 200)); len(got) != 2 {
		t.Fatalf("alice finds %q", got)
	}
	if got := docTitles(getJSON(t, ts, "bob", "/api/documents?q=railway", 200)); len(got) != 1 || got[0] != "Railway timetable" {
		t.Fatalf("bob finds %q", got)
	}
	if got := getJSON(t, ts, "bob", "/api/documents?q="+url.QueryEscape("परिपत्र")+"&all=true", 200)["documents"].([]any); len(got) != 0 {
		t.Fatalf("bob, asking for all, sees alice's document: %v", got)
	}
	if got := docTitles(getJSON(t, ts, "audit", "/api/documents?q=railway&all=true", 200)); len(got) != 3 {
		t.Fatalf("the auditor with all=true finds %q", got)
	}
	if got := getJSON(t, ts, "audit", "/api/documents?q=railway", 200)["documents"].([]any); len(got) != 0 {
		t.Fatalf("the auditor's own search finds others' documents: %v", got)
	}
	st := getJSON(t, ts, "alice", "/api/history/stats", 200)
	if st["total_jobs"] != 1.0 || st["total_documents"] != 3.0 || len(st["recent_jobs"].([]any)) != 1 {
		t.Fatalf("alice's stats: %v", st)
	}
	if st := getJSON(t, ts, "audit", "/api/history/stats?all=true", 200); st["total_jobs"] != 2.0 || st["total_documents"] != 4.0 {
		t.Fatalf("everyone's stats: %v", st)
	}
}

func TestDocumentsPageWithAnOpaqueCursor(t *testing.T) {
	ts := searchServer(t)
	seen, _ := pageDocuments(t, ts, "tag=TRANSPORT")
	if strings.Join(seen, "|") != "रेलवे परिपत्र|=HYPERLINK(x) railway|Railway circular" {
		t.Fatalf("pages: %q", seen)
	}
}

func TestDocumentsRefuseBadParametersNamingThem(t *testing.T) {
	ts := searchServer(t)
	for query, field := range map[string]string{
		"status=tagged":                        "status",
		"limit=0":                              "limit",
		"limit=501":                            "limit",
		"limit=ten":                            "limit",
		"cursor=abc":                           "cursor",
		"cursor=" + url.QueryEscape("ZDE6LTE"): "cursor", // "d1:-1"
		"since=yesterday":                      "since",
		"since=2026-12-02&until=2026-12-01":    "until",
		"job_id=" + url.QueryEscape("a b"):     "job_id",
		"q=" + url.QueryEscape("!!! ?"):        "q",
		"q=" + strings.Repeat("a", 501):        "q",
		"format=xml":                           "format",
		"format=csv&limit=0":                   "limit",
		"all=1":                                "all",
		"all=yes":                              "all",
	} {
		body := getJSON(t, ts, "alice", "/api/documents?"+query, 400)
		if body["field"] != field {
			t.Errorf("%s: %v, want the field %s named", query, body, field)
		}
	}
	if body := getJSON(t, ts, "alice", "/api/history/stats?all=1", 400); body["field"] != "all" {
		t.Errorf("history stats, all=1: %v, want all named", body)
	}
	// A parameter given twice is refused on every API read, not read
	// as its first value.
	for path, field := range map[string]string{
		"/api/documents?tag=transport&tag=finance":     "tag",
		"/api/documents?job_id=job-b&q=x&job_id=job-a": "job_id",
		"/api/history/stats?all=true&all=false":        "all",
		"/api/batch/jobs?limit=1&limit=2":              "limit",
	} {
		if body := getJSON(t, ts, "alice", path, 400); body["field"] != field {
			t.Errorf("%s: %v, want the field %s named", path, body, field)
		}
	}
}

func TestDocumentsExportAsCSVContinuingFromTheTrailerCursor(t *testing.T) {
	ts := searchServer(t)
	resp := get(t, ts, "alice", "/api/documents?format=csv&q=railway&limit=1")
	recs, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(recs) != 2 || recs[0][3] != "title" {
		t.Fatalf("first export: %d %q %v", resp.StatusCode, recs, err)
	}
	if recs[1][3] != "'=HYPERLINK(x) railway" {
		t.Fatalf("a formula went out unescaped: %q", recs[1][3])
	}
	next := resp.Trailer.Get(NextCursorTrailer)
	if next == "" {
		t.Fatal("an export cut at its limit names no cursor to continue from")
	}
	resp = get(t, ts, "alice", "/api/documents?format=csv&q=railway&cursor="+url.QueryEscape(next))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	recs, err = csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][3] != "Railway circular" || recs[1][6] != "transport" {
		t.Fatalf("continued export: %q %v", recs, err)
	}
	if resp.Trailer.Get(NextCursorTrailer) != "" {
		t.Fatal("a complete export names a cursor")
	}
}

// One request streams at most ExportRows rows, says so before them (a
// browser cannot read the trailer), and a larger limit is how many the
// caller wants in all: the part stops at the bound with the cursor.
func TestDocumentsExportIsBoundPerRequest(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	envs := tagged(t, "job-a", "alice", at, []string{"transport"}, "Railway one", "Railway two", "Railway three")
	ts := serveReal(t, Deps{Auth: tokenAuth{}, Documents: searchModel(t, envs...), Jobs: jobModel(t, envs...), ExportRows: 2})
	defer closeIdle(http.DefaultClient)
	for _, c := range []struct {
		query     string
		rows      int
		header    string
		continues bool
	}{
		{"", 2, "2", true},
		{"&limit=5", 2, "2", true},
		{"&limit=1", 1, "1", true},
		{"&limit=3", 2, "2", true},
	} {
		resp := get(t, ts.URL, "alice", "/api/documents?format=csv&q=railway"+c.query)
		recs, err := readRecords(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(recs) != 1+c.rows {
			t.Fatalf("%s: %d, %d records, %v; want %d rows", c.query, resp.StatusCode, len(recs), err, c.rows)
		}
		if got := resp.Header.Get(ExportRowsHeader); got != c.header {
			t.Errorf("%s: %s %q, want %q", c.query, ExportRowsHeader, got, c.header)
		}
		if (resp.Trailer.Get(NextCursorTrailer) != "") != c.continues {
			t.Errorf("%s: trailer cursor %q", c.query, resp.Trailer.Get(NextCursorTrailer))
		}
	}
}

// failingSearch is a read model whose search answers one page that says
// more follow, then fails (a database gone between pages).
type failingSearch struct {
	DocumentSearcher
	calls atomic.Int32
}

func (f *failingSearch) Search(ctx context.Context, q projections.DocQuery) ([]projections.DocHit, int64, error) {
	if f.calls.Add(1) > 1 {
		return nil, 0, errors.New("database is locked")
	}
	hits, _, err := f.DocumentSearcher.Search(ctx, q)
	return hits, 1, err
}

// An export that fails after its first page is a failed transfer, not a
// short CSV that looks whole (and has no cursor to say otherwise).
func TestDocumentsExportThatFailsMidwayIsNotComplete(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	envs := tagged(t, "job-a", "alice", at, []string{"transport"}, "Railway circular", "Railway timetable")
	ts := serveReal(t, Deps{Auth: tokenAuth{}, Documents: &failingSearch{DocumentSearcher: searchModel(t, envs...)}, Jobs: jobModel(t, envs...)})
	defer closeIdle(http.DefaultClient)
	resp := get(t, ts.URL, "alice", "/api/documents?format=csv&q=railway")
	defer resp.Body.Close()
	recs, err := readRecords(resp.Body)
	if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("status %d, records %q, read error %v; want the transfer to fail", resp.StatusCode, recs, err)
	}
	if len(recs) != 3 {
		t.Fatalf("records before the failure: %q, want the header and the first page", recs)
	}
}

// A search the read database fails says so as every read does, a 503 to
// retry, without the database's own words (table names, SQL) in it.
func TestDocumentSearchFailureIsA503WithoutTheSQL(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	envs := tagged(t, "job-a", "alice", at, []string{"transport"}, "Railway circular")
	f := &failingSearch{DocumentSearcher: searchModel(t, envs...)}
	f.calls.Store(1) // the first page fails already
	ts := serveReal(t, Deps{Auth: tokenAuth{}, Documents: f, Jobs: jobModel(t, envs...)})
	defer closeIdle(http.DefaultClient)
	resp := get(t, ts.URL, "alice", "/api/documents?q=railway")
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("search with the read database failing: %d, Retry-After %q; want 503 with", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if strings.Contains(string(body), "locked") || !strings.Contains(string(body), "read database") {
		t.Errorf("answer %s: want the read database named, not its error", body)
	}
}

func TestDocumentsWithoutAReadDatabaseAreUnavailable(t *testing.T) {
	ts := serveReal(t, Deps{Auth: tokenAuth{}})
	t.Cleanup(func() { closeIdle(http.DefaultClient) })
	for _, p := range []string{"/api/documents", "/api/history/stats"} {
		getJSON(t, ts.URL, "alice", p, http.StatusServiceUnavailable)
	}
	// Parameters are checked first: a bad one is still the caller's 400.
	getJSON(t, ts.URL, "alice", "/api/documents?limit=0", 400)
}

// With a cursor key, a search cursor does not show the document id (a
// number over every document of the server), pages as before, and one
// altered, made with another key or written plain is refused.
func TestDocumentCursorsAreOpaqueWithAKey(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	envs := tagged(t, "job-a", "alice", at, []string{"transport"}, "Railway one", "Railway two", "Railway three")
	key := []byte("0123456789abcdef0123456789abcdef")
	ts := serveReal(t, Deps{Auth: tokenAuth{}, Documents: searchModel(t, envs...), Jobs: jobModel(t, envs...), CursorKey: key}).URL
	defer closeIdle(http.DefaultClient)
	seen, cursors := pageDocuments(t, ts, "")
	for _, c := range cursors {
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(c, "d2"))
		if !strings.HasPrefix(c, "d2") || err != nil || len(raw) != 16 || bytes.Equal(raw[8:], make([]byte, 8)) {
			t.Fatalf("cursor %q is not one encrypted block", c)
		}
	}
	if strings.Join(seen, "|") != "Railway three|Railway two|Railway one" {
		t.Fatalf("pages: %q", seen)
	}
	// The same id through the other key's cursors or altered: refused.
	other := newDocCursors([]byte("fedcba9876543210")).encode(2).(string)
	first := cursors[0]
	altered := first[:len(first)-2] + "AA"
	if strings.HasSuffix(first, "AA") {
		altered = first[:len(first)-2] + "BB"
	}
	for _, bad := range []string{other, altered} {
		if body := getJSON(t, ts, "alice", "/api/documents?cursor="+url.QueryEscape(bad), 400); body["field"] != "cursor" {
			t.Errorf("cursor %q: %v", bad, body)
		}
	}
	// A plain cursor, which anyone can write ("d1:3": the documents
	// before id 3), would give the ids away again: refused.
	plain := base64.RawURLEncoding.EncodeToString([]byte("d1:3"))
	if body := getJSON(t, ts, "alice", "/api/documents?cursor="+plain, 400); body["field"] != "cursor" {
		t.Errorf("a plain cursor with a key set: %v", body)
	}
}

// pageDocuments pages alice's search with query one document a page,
// following next_cursor, and returns the titles and the cursors it met.
func pageDocuments(t *testing.T, ts, query string) (titles, cursors []string) {
	t.Helper()
	path := "/api/documents?limit=1&" + query
	for {
		body := getJSON(t, ts, "alice", path, 200)
		titles = append(titles, docTitles(body)...)
		next, _ := body["next_cursor"].(string)
		if next == "" {
			return titles, cursors
		}
		if len(cursors) > 3 {
			t.Fatal("paging does not end")
		}
		cursors = append(cursors, next)
		path = "/api/documents?limit=1&" + query + "&cursor=" + url.QueryEscape(next)
	}
}
