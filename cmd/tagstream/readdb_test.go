package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tagstream/tagstream/internal/sqldb"
	"github.com/tagstream/tagstream/internal/testenv"
	"github.com/tagstream/tagstream/projections"
)

// serve keeps its read models in TAGSTREAM_READ_DB (SQLite in the data
// dir, or PostgreSQL) and a restart resumes them from their checkpoints
// instead of replaying the log: the models answer the same, /api/ready
// lists each one running and caught up.
func TestServeResumesReadModelsFromTheirCheckpoints(t *testing.T) {
	eachReadStore(t, func(t *testing.T, store string, cfg config) {
		cfg.retiredGrace = time.Millisecond // restarted at once: the retired generation is dropped at start
		ctx := context.Background()
		e := startEnv(t, cfg, &fakeTagger{})
		u := e.register("ana@example.com")
		job := e.startJob(u, 5, nil)
		e.waitStatus(u, job, 30*time.Second, "completed")
		if err := e.app.fresh.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		before := e.app.read.Applied()
		live, err := modelDigests(ctx, e.app.read)
		if err != nil {
			t.Fatal(err)
		}
		if string(e.app.readDB.Dialect) != store {
			t.Fatalf("read db is %s, want %s", e.app.readDB.Dialect, store)
		}
		// A rebuild retires generation 1 of search; the restart below
		// serves generation 2 and drops 1 beside serving.
		if err := e.app.read.Rebuild(ctx, projections.DocumentSearchName, nil); err != nil {
			t.Fatal(err)
		}
		retired := func(db *sqldb.DB) int {
			q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'document_search_g1_%'`
			if db.Dialect == sqldb.Postgres {
				q = `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'document_search_g1_%'`
			}
			var n int
			if err := db.QueryRow(ctx, q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if retired(e.app.readDB) == 0 {
			t.Fatal("no retired generation to drop: the restart below proves nothing about it")
		}
		e.shutdown()

		e = startEnv(t, cfg, &fakeTagger{})
		if e.app.readFrom < before || before == 0 {
			t.Fatalf("restart caught up from seq %d, want the checkpoint %d or later", e.app.readFrom, before)
		}
		again, err := modelDigests(ctx, e.app.read)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(again, "\n") != strings.Join(live, "\n") {
			t.Fatalf("models after restart:\n%s\nbefore:\n%s", again, live)
		}
		if st := e.status(u, job); st["status"] != "completed" {
			t.Fatalf("job after restart: %v", st)
		}
		waitFor(t, "the retired search generation dropped", func() bool { return retired(e.app.readDB) == 0 })
		if g := statusOf(e.app.read, projections.DocumentSearchName).Generation; g != 2 {
			t.Fatalf("search serves generation %d after the restart, want 2", g)
		}
		// Ready reports the models as of their last commit: wait for
		// every read model to have the log's end first.
		if err := e.app.fresh.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		ready := e.mustCall("GET", "/api/ready", "", nil, 200)
		models, _ := ready["projections"].([]any)
		seen := map[string]bool{}
		for _, m := range models {
			m := m.(map[string]any)
			if m["state"] != "running" {
				t.Fatalf("projection %v", m)
			}
			seen[m["name"].(string)] = true
		}
		if !seen["job-status"] || !seen["document-results"] || !seen["document-search"] { // analytics: from document-search
			t.Fatalf("/api/ready projections: %v", models)
		}
	})
}

// eachReadStore runs fn with the test config on each read store: SQLite
// in the data dir, and PostgreSQL.
func eachReadStore(t *testing.T, fn func(t *testing.T, store string, cfg config)) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			cfg := testConfig(t)
			if store == "postgres" {
				cfg.ReadDB = testenv.PostgresSchema(t)
			}
			fn(t, store, cfg)
		})
	}
}
