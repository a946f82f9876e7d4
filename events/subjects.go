package events

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Stream is the JetStream stream that holds every job event.
const Stream = "TAGSTREAM_EVENTS"

// Subjects, all under "jobs.<job id>.":
//
//	jobs.<id>.job          job-level transitions (started, paused, ..., completed)
//	jobs.<id>.input        the job's documents, in chunks, before JobStarted
//	jobs.<id>.doc.<row>    one document's transitions
//	jobs.<id>.hook         webhook delivery attempts (readers of job state ignore it)
//
// Control events share one subject so a command can append with the expected
// last sequence of that subject: the job's state cannot change between the
// check and the append. Document outcomes live on their own subjects so
// workers never contend with each other or with commands.
const (
	SubjectAll = "jobs.>"
	// SubjectAllControl matches every job's control subject.
	SubjectAllControl = "jobs.*.job"
)

// ControlSubject is where a job's transitions are stored.
func ControlSubject(jobID string) string { return "jobs." + jobID + ".job" }

// InputSubject is where a job's documents are stored.
func InputSubject(jobID string) string { return "jobs." + jobID + ".input" }

// DocSubject is where one document's transitions are stored.
func DocSubject(jobID string, row int) string {
	return "jobs." + jobID + ".doc." + strconv.Itoa(row)
}

// HookSubject is where a job's webhook delivery attempts are stored.
func HookSubject(jobID string) string { return "jobs." + jobID + ".hook" }

// JobSubjects matches everything stored for one job.
func JobSubjects(jobID string) string { return "jobs." + jobID + ".>" }

var jobIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidJobID reports whether id can be used as a job id. Ids become subject
// tokens, so dots, wildcards and whitespace are refused.
func ValidJobID(id string) bool { return jobIDPattern.MatchString(id) }

// ParseSubject splits a stored subject into its job id, kind ("job",
// "input" or "doc") and, for documents, the row.
func ParseSubject(subject string) (jobID, kind string, row int, err error) {
	parts := strings.Split(subject, ".")
	if len(parts) < 3 || parts[0] != "jobs" {
		return "", "", 0, fmt.Errorf("not a job subject: %q", subject)
	}
	jobID, kind = parts[1], parts[2]
	if kind == "doc" {
		if len(parts) != 4 {
			return "", "", 0, fmt.Errorf("bad document subject: %q", subject)
		}
		row, err = strconv.Atoi(parts[3])
	}
	return jobID, kind, row, err
}
