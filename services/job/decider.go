// Package job is the one place that says what a job is and what may happen
// to it next: a pure fold over the job's events (State.Apply) and the
// decisions taken on the folded state. Commands, workers, completion,
// retry and the dispatcher all decide through it; it reads no store.
package job

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/projections"
)

// Document statuses, as the read models report them.
const (
	DocPending    = projections.DocPending
	DocProcessing = projections.DocProcessing
	DocSuccess    = projections.DocSuccess
	DocFailed     = projections.DocFailed
	DocCancelled  = projections.DocCancelled
)

// Doc is one document's position in its lifecycle. Outcome is set once a
// document event of Attempt recorded an outcome: the first one wins.
type Doc struct {
	Status  string
	Attempt int
	Outcome bool
	// Starts counts the DocumentStarted events of Attempt: while Outcome
	// is false, each of them ended without one (see Quarantine).
	Starts int
}

// State is a job folded from its events. Folding only control events is
// enough for every decision except Complete and retry's choice of rows,
// which need the document events too (see Docs).
type State struct {
	ID         string
	Owner      events.Actor
	Started    *events.JobStarted
	Status     string
	Attempt    int
	Config     events.JobConfig
	Reason     string
	ControlSeq uint64 // sequence of the last control event
	// Erased: a JobErased was folded (erase.go); Hold: a legal hold is on.
	Erased, Hold bool
	AttemptSeq   uint64 // sequence of the JobStarted/JobRetried of the current attempt

	// Docs and the counts are kept only when the state was made with
	// trackDocs (one entry per document).
	Docs                         []Doc
	Processed, Failed, Cancelled int
	Skipped                      int // events left out because this build cannot read them
	// ModelTagged counts DocumentTagged events, of any attempt, whose tags
	// came from a model call: whether the model ever worked for this job.
	ModelTagged int
	trackDocs   bool
	lastSeq     uint64
}

// New returns the state of a job before any event. trackDocs keeps one
// entry per document, which Complete and retry need.
func New(id string, trackDocs bool) *State { return &State{ID: id, trackDocs: trackDocs} }

// Exists reports whether the job's JobStarted was folded.
func (s *State) Exists() bool { return s.Started != nil }

// Apply folds one event of the job. Events seen twice (a sequence at or
// below the last one folded) change nothing; unknown types are an error
// the caller decides about.
func (s *State) Apply(env events.Envelope) error {
	if env.Seq != 0 && env.Seq <= s.lastSeq {
		return nil
	}
	if env.Type == events.TypeDocumentsSubmitted {
		return nil
	}
	ev, err := env.Decode()
	if env.Seq != 0 {
		s.lastSeq = env.Seq
	}
	if err != nil {
		// An event this build cannot read (a newer release's type or
		// version) is skipped, but a control event still moves the
		// sequence that appends are guarded by, or every later command
		// would conflict with it forever.
		s.Skipped++
		if s.Started != nil && env.Subject == events.ControlSubject(s.ID) {
			s.ControlSeq = env.Seq
		}
		return fmt.Errorf("%w: %w", ErrSkipped, err)
	}
	s.apply(env, ev)
	return nil
}

// ErrSkipped wraps the error of an event Apply could not read and left out.
var ErrSkipped = errors.New("event skipped")

// ApplyEvent folds an event the caller holds decoded, such as one Decide
// returned (events by value or by pointer), to see the state it leads to.
func (s *State) ApplyEvent(env events.Envelope, ev events.Event) {
	if env.Seq != 0 && env.Seq <= s.lastSeq {
		return
	}
	if env.Seq != 0 {
		s.lastSeq = env.Seq
	}
	switch e := ev.(type) {
	case events.JobPaused:
		ev = &e
	case events.JobResumed:
		ev = &e
	case events.JobCancelled:
		ev = &e
	case events.JobCompleted:
		ev = &e
	case events.JobFailed:
		ev = &e
	case events.JobRetried:
		ev = &e
	case events.DocumentStarted:
		ev = &e
	case events.DocumentTagged:
		ev = &e
	case events.DocumentFailed:
		ev = &e
	case events.DocumentReleased:
		ev = &e
	case events.JobErased:
		ev = &e
	case events.LegalHoldSet:
		ev = &e
	}
	s.apply(env, ev)
}

func (s *State) apply(env events.Envelope, ev events.Event) {
	if s.Started == nil {
		st, ok := ev.(*events.JobStarted)
		if !ok {
			return // events of a job whose start never committed
		}
		s.Started, s.Owner, s.Status, s.Attempt, s.Config = st, env.Actor, events.StatusPending, 1, st.Config
		s.ControlSeq, s.AttemptSeq = env.Seq, env.Seq
		if s.trackDocs {
			s.Docs = newDocs(st.Total)
		}
		return
	}
	switch e := ev.(type) {
	case *events.DocumentStarted:
		s.docEvent(env.Type, e.Row, e.Attempt)
	case *events.DocumentTagged:
		if e.Metadata.Calls > 0 {
			s.ModelTagged++
		}
		s.docEvent(env.Type, e.Row, e.Attempt)
	case *events.DocumentFailed:
		s.docEvent(env.Type, e.Row, e.Attempt)
	case *events.DocumentReleased:
		s.docEvent(releasedAs(e.Code), e.Row, e.Attempt)
	case *events.JobPaused:
		s.Reason = e.Reason
		s.control(env, events.StatusPaused)
	case *events.JobResumed:
		s.Reason = ""
		s.control(env, events.StatusProcessing)
	case *events.JobCancelled:
		s.endDocs(DocCancelled)
		s.Reason = e.Reason
		s.control(env, events.StatusCancelled)
	case *events.JobFailed:
		s.endDocs(DocFailed)
		s.Reason = e.Reason
		s.control(env, events.StatusFailed)
	case *events.JobCompleted:
		s.control(env, CompletedStatus(*e))
	case *events.JobErased, *events.LegalHoldSet:
		s.applyGovernance(env, e)
	case *events.JobRetried:
		if e.Attempt <= s.Attempt {
			return
		}
		s.Attempt, s.Config, s.Reason, s.AttemptSeq = e.Attempt, e.Config, "", env.Seq
		for _, row := range e.Rows {
			if s.Docs != nil && row >= 0 && row < len(s.Docs) {
				s.move(row, Doc{Status: DocPending, Attempt: e.Attempt})
			}
		}
		s.control(env, events.StatusPending)
	}
}

// CompletedStatus is the status a JobCompleted leaves a job in. Documents
// only become cancelled through a JobCancelled, so a completion that still
// counts cancelled documents closes a job whose cancellation was never
// undone (a retry of its failures only): it stays cancelled rather than
// reading as a plain success.
func CompletedStatus(e events.JobCompleted) string {
	if e.Cancelled > 0 {
		return events.StatusCancelled
	}
	return events.StatusCompleted
}

func (s *State) control(env events.Envelope, status string) {
	s.ControlSeq, s.Status = env.Seq, status
}

func newDocs(n int) []Doc {
	if n < 0 {
		n = 0
	}
	docs := make([]Doc, n)
	for i := range docs {
		docs[i] = Doc{Status: DocPending, Attempt: 1}
	}
	return docs
}

// docEvent moves a document. A document event of the current attempt also
// moves a pending job to processing, whether or not documents are tracked.
func (s *State) docEvent(eventType string, row, attempt int) {
	if attempt == s.Attempt && s.Status == events.StatusPending {
		s.Status = events.StatusProcessing
	}
	if !s.trackDocs || row < 0 || row >= len(s.Docs) {
		return
	}
	if next, changed := s.Docs[row].OnDocEvent(eventType, attempt); changed {
		s.move(row, next)
	}
}

func (s *State) endDocs(status string) {
	for row, d := range s.Docs {
		if next, changed := d.OnJobEnd(status); changed {
			s.move(row, next)
		}
	}
}

func (s *State) move(row int, next Doc) {
	add := func(status string, n int) {
		switch status {
		case DocSuccess:
			s.Processed += n
		case DocFailed:
			s.Failed += n
		case DocCancelled:
			s.Cancelled += n
		}
	}
	add(s.Docs[row].Status, -1)
	add(next.Status, 1)
	s.Docs[row] = next
}

// Terminal reports whether a document status is final for its attempt.
func Terminal(status string) bool { return projections.TerminalDoc(status) }

// OnDocEvent returns the document after one of its events, and whether it
// changed. The lifecycle itself is projections.DocState.Step, shared with
// the read models so the two can never disagree; the decider adds only the
// count of starts without an outcome that quarantine needs.
func (d Doc) OnDocEvent(eventType string, attempt int) (Doc, bool) {
	lost := eventType == typeLostRelease
	if lost {
		eventType = events.TypeDocumentReleased
	}
	life, applied := projections.DocState{Status: d.Status, Attempt: d.Attempt, Outcome: d.Outcome}.Step(eventType, attempt)
	if !applied {
		return d, false
	}
	next := Doc{Status: life.Status, Attempt: life.Attempt, Outcome: life.Outcome, Starts: d.Starts}
	if life.Attempt != d.Attempt {
		next.Starts = 0
	}
	switch eventType {
	case events.TypeDocumentStarted:
		next.Starts++
	case events.TypeDocumentReleased:
		// Given back on purpose: the start ended, its process did not die
		// (unless the release records that it did: CodeWorkerLost).
		if next.Starts > 0 && !lost {
			next.Starts--
		}
	}
	return next, next != d
}

// CodeWorkerLost is the code of a DocumentReleased the reconciler appends
// for a document of a paused job whose process died while tagging it: it
// reads pending again (not "processing" until a resume), and, unlike a
// release the worker makes, it still counts as a death for quarantine.
const CodeWorkerLost = "worker_lost"

// typeLostRelease is how OnDocEvent is told of such a release.
const typeLostRelease = events.TypeDocumentReleased + "/" + CodeWorkerLost

// releasedAs is the event type OnDocEvent folds a release with code as.
func releasedAs(code string) string {
	if code == CodeWorkerLost {
		return typeLostRelease
	}
	return events.TypeDocumentReleased
}

// OnJobEnd returns the document after its job was cancelled (DocCancelled)
// or failed (DocFailed): unfinished documents take that status.
func (d Doc) OnJobEnd(status string) (Doc, bool) {
	if Terminal(d.Status) {
		return d, false
	}
	d.Status = status
	return d, true
}

// Actions a command can ask for.
const (
	ActionPause  = "pause"
	ActionResume = "resume"
	ActionCancel = "cancel"
	ActionRetry  = "retry"
)

// Command is a user's request to change a job.
type Command struct {
	Action string
	Reason string
	// For retries: also re-run cancelled documents, with this config.
	IncludeCancelled bool
	Config           events.JobConfig
}

// Decide returns the event a command appends, or why it may not.
func (s *State) Decide(cmd Command) (events.Event, error) {
	if s.Erased {
		return nil, errErasedJob(s.ID)
	}
	active := s.Status == events.StatusPending || s.Status == events.StatusProcessing
	switch cmd.Action {
	case ActionPause:
		if active {
			return events.JobPaused{Reason: cmd.Reason}, nil
		}
	case ActionResume:
		if s.Status == events.StatusPaused {
			return events.JobResumed{Reason: cmd.Reason}, nil
		}
	case ActionCancel:
		if !events.Terminal(s.Status) {
			return events.JobCancelled{Reason: cmd.Reason}, nil
		}
	case ActionRetry:
		return s.decideRetry(cmd)
	default:
		return nil, apperr.New(apperr.Invalid, "unknown action %q", cmd.Action)
	}
	return nil, apperr.New(apperr.Conflict, "cannot %s a job that is %s", cmd.Action, s.Status)
}

func (s *State) decideRetry(cmd Command) (events.Event, error) {
	if !events.Terminal(s.Status) {
		return nil, apperr.New(apperr.Conflict, "cannot retry a job that is %s; wait until it is finished or cancel it", s.Status)
	}
	if !s.trackDocs {
		return nil, fmt.Errorf("job %s: retry needs the document events folded", s.ID)
	}
	rows := s.Retryable(cmd.IncludeCancelled)
	if len(rows) == 0 {
		what := "failed"
		if cmd.IncludeCancelled {
			what = "failed or cancelled"
		}
		return nil, apperr.New(apperr.Conflict, "job %s has no %s documents to retry", s.ID, what)
	}
	return events.JobRetried{Attempt: s.Attempt + 1, Rows: rows, IncludeCancelled: cmd.IncludeCancelled,
		Reason: cmd.Reason, Config: cmd.Config}, nil
}

// Retryable lists, in row order, the documents that ended failed (and
// cancelled, if asked).
func (s *State) Retryable(cancelled bool) []int {
	var rows []int
	for row, d := range s.Docs {
		if d.Status == DocFailed || (cancelled && d.Status == DocCancelled) {
			rows = append(rows, row)
		}
	}
	return rows
}

// StartVerdict says what a worker does with a task.
type StartVerdict int

// Verdicts of CanStart.
const (
	StartNow   StartVerdict = iota // start the document
	StartLater                     // give the task back (paused, or news the worker has not seen)
	StartNever                     // drop the task: the job ended or the attempt is stale
)

// CanStart decides whether a task of the given attempt may start now.
func (s *State) CanStart(attempt int) StartVerdict {
	switch {
	case !s.Exists(), events.Terminal(s.Status), attempt < s.Attempt:
		return StartNever
	case attempt > s.Attempt, s.Status == events.StatusPaused:
		return StartLater
	}
	return StartNow
}

// TaskStale reports whether a document's last event makes a task of the
// given attempt stale: a later attempt exists, or this attempt already has
// an outcome. (Outcomes are appended guarded by the document's start, so
// its last event is always that of its newest attempt.)
func TaskStale(last events.Envelope, attempt int) bool {
	var a struct {
		Attempt int `json:"attempt"`
	}
	_ = json.Unmarshal(last.Data, &a)
	if a.Attempt > attempt {
		return true
	}
	return a.Attempt == attempt && (last.Type == events.TypeDocumentTagged || last.Type == events.TypeDocumentFailed)
}

// CanFail reports whether a document of the given attempt may fail the
// whole job (an invalid key): only while that attempt is the live one.
func (s *State) CanFail(attempt int) bool {
	return s.Exists() && !events.Terminal(s.Status) && attempt == s.Attempt
}

// Complete returns the event that ends a live job whose documents all have
// an outcome: JobCompleted, or JobFailed when none succeeded and some
// failed. ok is false while the job is not done (or documents are not
// tracked).
func (s *State) Complete() (events.Event, bool) {
	if !s.Exists() || events.Terminal(s.Status) || !s.trackDocs {
		return nil, false
	}
	if s.Processed+s.Failed+s.Cancelled < len(s.Docs) {
		return nil, false
	}
	if s.Processed == 0 && s.Failed > 0 {
		return events.JobFailed{Reason: fmt.Sprintf("all %d documents failed", s.Failed), Code: "all_failed"}, true
	}
	return events.JobCompleted{Processed: s.Processed, Failed: s.Failed, Cancelled: s.Cancelled}, true
}

// UnreachableLimit is how many documents in a row may fail to reach the
// model before their job stops: enough to ride out one bad connection,
// few enough that a dead endpoint costs seconds, not hours.
const UnreachableLimit = 3

// CodeModelUnreachable is the code of a job stopped for that reason.
const CodeModelUnreachable = "model_unreachable"

// CodeModelRateLimited is the code of a job paused because its model's
// provider kept answering 429 until documents' deadlines passed: a quota
// spent or a limit far below the job's pace. Not a document failure
// (DESIGN): the documents go back to the queue and the owner resumes.
const CodeModelRateLimited = "model_rate_limited"

// DecideUnreachable returns the event that stops a live job after streak
// documents of the given attempt in a row could not reach the model (the
// reason names the endpoint and the cause): JobPaused, so that the owner
// resumes it once the endpoint is back, or JobFailed when the model never
// tagged a document of this job, as a wrong URL will not fix itself. The
// documents concerned get no outcome: they go back to the queue. ok is
// false while the streak is below UnreachableLimit, or when the job is no
// longer live, already paused, or the attempt is not its current one. The
// state must be loaded with its document events (LoadFull). With code
// CodeModelRateLimited the model answered, only refused: the job pauses
// whether or not it ever tagged a document.
func (s *State) DecideUnreachable(attempt, streak int, code, reason string) (events.Event, bool) {
	if streak < UnreachableLimit || !s.Exists() || attempt != s.Attempt {
		return nil, false
	}
	if s.Status != events.StatusPending && s.Status != events.StatusProcessing {
		return nil, false
	}
	if code == CodeModelRateLimited {
		return events.JobPaused{Reason: reason, Code: CodeModelRateLimited}, true
	}
	if s.ModelTagged == 0 {
		return events.JobFailed{Reason: reason, Code: CodeModelUnreachable}, true
	}
	return events.JobPaused{Reason: reason, Code: CodeModelUnreachable}, true
}
