package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tagstream/tagstream/internal/client"
)

// rowField matches the server's name of a row's field: documents[4].file_path.
var rowField = regexp.MustCompile(`^documents\[(\d+)\](?:\.(.+))?$`)

// lineError is an API error about one row, told as the file line a user
// sees in an editor; Unwrap keeps the API error for its code.
type lineError struct {
	msg string
	err error
}

func (e *lineError) Error() string { return e.msg }
func (e *lineError) Unwrap() error { return e.err }

// atFileLine rewrites an API error naming documents[i] as "FILE line N
// (column "C"): reason", with C the user's column for the field.
func atFileLine(err error, path string, lines []int, mapping map[string]string) error {
	var ae *client.Error
	if !errors.As(err, &ae) {
		return err
	}
	m := rowField.FindStringSubmatch(ae.Field)
	if m == nil {
		return err
	}
	i, convErr := strconv.Atoi(m[1])
	if convErr != nil || i < 0 {
		return err
	}
	line := i + 2
	if i < len(lines) {
		line = lines[i]
	}
	reason := strings.TrimPrefix(ae.Detail, ae.Field+": ")
	where := fmt.Sprintf("%s line %d", path, line)
	if field := m[2]; field != "" {
		col := field
		for c, f := range mapping {
			if f == field {
				col = c
			}
		}
		where += fmt.Sprintf(" (column %q)", col)
	}
	return &lineError{msg: where + ": " + reason, err: err}
}

// reportError prints a command's error on stderr: one "tagstream: ..."
// line, or with --json one JSON object {"error": "...", "code": "..."}
// (plus "field" and "status" for API errors), so scripts that read the
// JSON output can read failures too; stdout stays for results.
func reportError(w io.Writer, root *cobra.Command, args []string, err error) {
	if !jsonRequested(root, args) {
		fmt.Fprintln(w, "tagstream:", oneLine(err))
		return
	}
	out := map[string]any{"error": err.Error(), "code": "error"}
	var ae *client.Error
	var ec *exitCodeError
	switch {
	case errors.As(err, &ae):
		out["code"], out["status"] = ae.Code, ae.Status
		if ae.Code == "" {
			out["code"] = "http_" + strconv.Itoa(ae.Status)
		}
		if ae.Field != "" {
			out["field"] = ae.Field
		}
	case errors.As(err, &ec):
		out["code"] = "job_unsuccessful"
	}
	b, _ := json.Marshal(out)
	fmt.Fprintln(w, string(b))
}

// jsonRequested says whether the command that ran had --json set.
func jsonRequested(root *cobra.Command, args []string) bool {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		return false
	}
	f := cmd.Flags().Lookup("json")
	return f != nil && f.Value.String() == "true"
}
