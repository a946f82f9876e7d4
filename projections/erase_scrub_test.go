package projections

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/sqldb"
)

// erasureLog is two finished jobs, the first of them erased.
func erasureLog(t *testing.T) sliceLog {
	var log sliceLog
	add := func(job string, ev events.Event) {
		env, err := events.New(job, events.User("u-1", "u1@example.com"), ev)
		if err != nil {
			t.Fatal(err)
		}
		env.Seq = uint64(len(log) + 1)
		log = append(log, env)
	}
	for _, j := range []struct{ id, word string }{{"job-a", "Gossamerquay"}, {"job-b", "Tamarindvault"}} {
		add(j.id, events.DocumentsSubmitted{InputID: "in-" + j.id, Documents: []events.Document{
			{Row: 0, Title: j.word + "Title", FilePath: j.word + "Path.pdf", SourceType: "local", Description: j.word + "Desc",
				Extra: map[string]any{"district": j.word + "Extra"}},
			{Row: 1, Title: j.word + "Other", FilePath: "x.pdf", SourceType: "local"},
		}})
		add(j.id, events.JobStarted{InputID: "in-" + j.id, Chunks: 1, Total: 2, Config: events.JobConfig{Model: "m1"}, Columns: []string{"district"}})
		add(j.id, events.DocumentTagged{Row: 0, Attempt: 1, Tags: []string{j.word + "Tag"}, Metadata: events.TagMetadata{Model: "m1", Calls: 1, PromptTokens: 77}})
		add(j.id, events.DocumentFailed{Row: 1, Attempt: 1, Error: "fetch " + j.word + "Error.pdf: 404", Code: "fetch"})
		add(j.id, events.JobCompleted{Processed: 1, Failed: 1})
	}
	add("job-a", events.JobErased{Reason: "request"})
	return log
}

// allRows is every row of every table of the database, as text.
func allRows(t *testing.T, db *sqldb.DB) string {
	ctx := context.Background()
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if db.Dialect == sqldb.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	rows, err := db.SQL.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	var out strings.Builder
	for _, table := range tables {
		rs, err := db.SQL.QueryContext(ctx, `SELECT * FROM `+table)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		for _, vals := range rowValues(t, rs) {
			for _, v := range vals {
				fmt.Fprintf(&out, "%v|", v)
			}
			out.WriteString(table + "\n")
		}
	}
	return strings.ToLower(out.String())
}

// On JobErased every read model drops the job's document data, on SQLite
// and PostgreSQL, and keeps its rows, statuses and tokens; another job is
// untouched (which also shows the dump sees document data).
func TestErasureScrubsTheReadModels(t *testing.T) {
	log := erasureLog(t)
	stores(t, func(t *testing.T, open func() *sqldb.DB) {
		ctx := context.Background()
		r := NewSQLRunner(open(), log, JobStatusModel{}, ResultsModel{}, NewDocumentSearch())
		if err := r.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		dump := allRows(t, r.DB())
		if r.DB().Dialect == sqldb.SQLite {
			// The FTS5 table keeps no copy of the text, and its segments
			// store terms prefix-compressed: its words are read from it.
			dump += strings.ToLower(dumpFTS(t, r.DB(), r.Tables(DocumentSearchName).Name("fts")))
		}
		for _, part := range []string{"Title", "Path", "Desc", "Extra", "Tag", "Error", "Other"} {
			if strings.Contains(dump, strings.ToLower("Gossamerquay"+part)) {
				t.Errorf("erased %s still in the read database", part)
			}
			if !strings.Contains(dump, strings.ToLower("Tamarindvault"+part)) {
				t.Errorf("the other job's %s is missing: the dump proves nothing", part)
			}
		}
		res := r.Tables(DocumentResultsName).Name("rows")
		var statuses string
		err := r.DB().SQL.QueryRowContext(ctx, r.DB().Rebind(`SELECT `+concat(r.DB(), "status")+` FROM `+res+` WHERE job_id = ?`), "job-a").Scan(&statuses)
		if err != nil || statuses != "failed,success" && statuses != "success,failed" {
			t.Fatalf("erased job's rows: %q %v", statuses, err)
		}
		jobs, err := NewJobQueries(r).Dump(ctx)
		a := string(jobs)[strings.Index(string(jobs), `"job_id":"job-a"`):]
		if err != nil || !strings.Contains(a, `"status":"completed","total_documents":2,"processed_count":1,"failed_count":1`) ||
			!strings.Contains(a, `"model_calls":1,"prompt_tokens":77`) {
			t.Fatalf("erased job's counts and usage: %v %s", err, a)
		}
	})
}

func concat(db *sqldb.DB, col string) string {
	if db.Dialect == sqldb.Postgres {
		return "string_agg(" + col + ", ',')"
	}
	return "group_concat(" + col + ", ',')"
}
