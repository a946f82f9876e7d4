package main

import (
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/tagstream/tagstream/services/pipeline"
)

// TestCLIReadsTheREADMEsCSVLikeTheConsole: a ';'-separated file with a
// BOM and the README's exact --map: "Name" is still auto-mapped to the
// title, and the results CSV keeps the user's columns, in their order,
// under their own names.
func TestCLIReadsTheREADMEsCSVLikeTheConsole(t *testing.T) {
	cliSignedIn(t, "carol@example.com")
	file := clientFile(t, "docs.csv", "\ufeffZone;Document URL;Name;Budget\nnorth;docs/a.pdf;Alpha;\"1,5\"\nsouth;docs/b.pdf;Beta;2\n")
	r := ok(t, "batch", "start", "--csv", file, "--map", "Document URL=file_path", "--model", "builtin/keywords", "--wait")
	if !strings.Contains(r.stderr, `"Name" -> title`) || !strings.Contains(r.stderr, "2 tagged, 0 failed, 0 left") {
		t.Fatalf("stderr %q", r.stderr)
	}
	job := jobIDFrom(t, r.stderr)
	rows, err := csv.NewReader(strings.NewReader(ok(t, "batch", "results", job, "--csv").stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"row_id", "Name", "Document URL", "file_source_type", "description", "Zone", "Budget"}
	if strings.Join(rows[0][:len(want)], "|") != strings.Join(want, "|") {
		t.Fatalf("header %q, want it to start %q", rows[0], want)
	}
	if rows[1][1] != "Alpha" || rows[1][2] != "docs/a.pdf" || rows[1][5] != "north" || rows[1][6] != "1,5" {
		t.Fatalf("row 0: %q", rows[1])
	}
}

// TestCLIRowErrorsNameTheFileLineAndJSONErrors: a server error about
// documents[1] is told as line 3 of the file (the header is line 1), with
// the user's column name; with --json it is a JSON object on stderr.
func TestCLIRowErrorsNameTheFileLineAndJSONErrors(t *testing.T) {
	cliSignedIn(t, "dan@example.com")
	file := clientFile(t, "docs.csv", "Document URL,Name\ndocs/a.pdf,A\nfile:///etc/passwd,P\n")
	r := cli(t, "", "batch", "start", "--csv", file, "--model", "builtin/keywords")
	failsWithOneLine(t, r, `docs.csv line 3 (column "Document URL"): has unsupported scheme "file"`)

	r = cli(t, "", "batch", "start", "--csv", file, "--model", "builtin/keywords", "--json")
	var jerr struct {
		Error, Code, Field string
		Status             int
	}
	if r.code != 1 || r.stdout != "" || json.Unmarshal([]byte(lastLine(r.stderr)), &jerr) != nil ||
		jerr.Code != "invalid" || jerr.Status != 400 || jerr.Field != "documents[1].file_path" || !strings.Contains(jerr.Error, "line 3") {
		t.Fatalf("--json error: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// A local error (no server involved) is JSON too.
	r = cli(t, "", "batch", "status", "batch-1-000000000000", "--json")
	if r.code != 1 || json.Unmarshal([]byte(lastLine(r.stderr)), &jerr) != nil || jerr.Code != "not_found" {
		t.Fatalf("--json 404: exit %d stderr %q", r.code, r.stderr)
	}
}

// TestCLIBatchWatchFollowsAJob: `batch watch` follows a job started
// without --wait to its end, with --wait's exit codes and wording.
func TestCLIBatchWatchFollowsAJob(t *testing.T) {
	tagger := &fakeTagger{fail: func(in pipeline.TagInput) error {
		if in.Document.Title == "bad" {
			return &pipeline.Failure{Code: "not_pdf", Reason: "not a PDF"}
		}
		return nil
	}}
	e := startEnv(t, testConfig(t), tagger)
	clientEnv(t)
	e.register("erin@example.com")
	login(t, e.url, "erin@example.com")
	file := clientFile(t, "docs.csv", "file_path,title\ndocs/a.pdf,a\ndocs/b.pdf,bad\ndocs/c.pdf,c\n")
	job := jobIDFrom(t, ok(t, "batch", "start", "--csv", file, "--model", "builtin/keywords").stdout)
	r := cli(t, "", "batch", "watch", job, "--no-websocket")
	if r.code != 2 || !strings.Contains(r.stdout, "completed: 2 tagged, 1 failed, 0 cancelled, 0 left of 3") ||
		!strings.Contains(r.stderr, "2 tagged, 1 failed, 0 left") {
		t.Fatalf("watch: exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	r = cli(t, "", "batch", "watch", job) // over the WebSocket, the job already finished
	if r.code != 2 {
		t.Fatalf("watch (ws): exit %d %q", r.code, r.stderr)
	}
	good := jobIDFrom(t, ok(t, "batch", "start", "--csv", clientFile(t, "ok.csv", "url\ndocs/x.pdf\n"), "--model", "builtin/keywords").stdout)
	e.waitStatus(user{token: mustToken(t)}, good, 30*time.Second, "completed")
	if r := cli(t, "", "batch", "watch", good, "--json"); r.code != 0 || !strings.Contains(r.stdout, `"status": "completed"`) {
		t.Fatalf("watch of a clean job: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = cli(t, "", "batch", "watch", "batch-1-000000000000", "--json")
	var jerr struct{ Code string }
	if r.code != 1 || json.Unmarshal([]byte(lastLine(r.stderr)), &jerr) != nil || jerr.Code != "not_found" {
		t.Fatalf("watch of an unknown job: exit %d %q", r.code, r.stderr)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestCLIRefusesACSVThatIsNotUTF8: a Windows-1252 file started a job whose
// title was "Caf\ufffd r\ufffdsum\ufffd"; now the start fails before the
// server, naming the file, line and byte and how to save it as UTF-8.
func TestCLIRefusesACSVThatIsNotUTF8(t *testing.T) {
	cliSignedIn(t, "latin@example.com")
	file := clientFile(t, "latin1.csv", "Document URL,Title\ndocs/circular-water.pdf,Caf\xe9 r\xe9sum\xe9\n")
	r := cli(t, "", "batch", "start", "--csv", file, "--model", "builtin/keywords")
	failsWithOneLine(t, r, "latin1.csv line 2, byte 28: not UTF-8 text (byte 0xE9")
	failsWithOneLine(t, r, "save the file as UTF-8")
	if strings.Contains(r.stdout+r.stderr, "job batch-") {
		t.Fatalf("a job was started: %q %q", r.stdout, r.stderr)
	}
}

// TestCLIReadsUTF16CSVWithAByteOrderMark: Excel's "Unicode text" export
// (UTF-16 LE with a mark, tab separated) failed with "line 3: 1 fields,
// but the header has 2 columns" on a file of two lines; big endian too.
func TestCLIReadsUTF16CSVWithAByteOrderMark(t *testing.T) {
	cliSignedIn(t, "unicode@example.com")
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		raw := order.AppendUint16(nil, 0xfeff)
		for _, u := range utf16.Encode([]rune("Document URL\tTitle\r\ndocs/circular-water.pdf\tCafé résumé\r\n")) {
			raw = order.AppendUint16(raw, u)
		}
		r := ok(t, "batch", "start", "--csv", clientFile(t, "utf16.csv", string(raw)), "--model", "builtin/keywords", "--wait")
		job := jobIDFrom(t, r.stderr)
		var page struct {
			Results []map[string]any `json:"results"`
		}
		if err := json.Unmarshal([]byte(ok(t, "batch", "results", job, "--json").stdout), &page); err != nil || len(page.Results) != 1 {
			t.Fatalf("%v: results %v %v", order, page, err)
		}
		if row := page.Results[0]; row["title"] != "Café résumé" || row["file_path"] != "docs/circular-water.pdf" {
			t.Fatalf("%v: row %v", order, row)
		}
	}
}
