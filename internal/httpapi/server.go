// Package httpapi is Tagstream's HTTP API on gin: it decodes requests,
// authenticates callers, hands commands to services and answers queries
// from projections. Statuses come from one table over apperr codes.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tagstream/tagstream/internal/apperr"
	"github.com/tagstream/tagstream/internal/auth"
	"github.com/tagstream/tagstream/internal/lease"
	"github.com/tagstream/tagstream/projections"
	"github.com/tagstream/tagstream/services"
)

// MaxBodyBytes bounds request bodies: a 10,000-document start fits.
const MaxBodyBytes = 32 << 20

// Authenticator is what the API needs from the auth service.
type Authenticator interface {
	Register(ctx context.Context, email, password, fullName string) (auth.User, error)
	Login(ctx context.Context, email, password string) (auth.User, auth.Tokens, error)
	Refresh(ctx context.Context, refreshToken string) (auth.Tokens, error)
	Logout(ctx context.Context, refreshToken string) error
	Verify(ctx context.Context, accessToken string) (auth.Claims, error)
	User(ctx context.Context, id string) (auth.User, error)
	JWKS() ([]byte, error)
}

// Starter starts jobs.
type Starter interface {
	Handle(ctx context.Context, cmd services.StartJob) (services.StartResult, error)
}

// Changer pauses, resumes and cancels jobs.
type Changer interface {
	Handle(ctx context.Context, cmd services.ChangeJob) (services.ChangeResult, error)
}

// JobReader answers job queries.
type JobReader interface {
	Get(ctx context.Context, id string) (projections.Job, bool, error)
	List(ctx context.Context, f projections.Filter) ([]projections.Job, error)
	// CountByStatus counts the jobs f selects per status, in SQL: the
	// analytics summary of an admin over 100,000 jobs read every one of
	// them to count them (BENCHMARKS.md, "Job history page").
	CountByStatus(ctx context.Context, f projections.Filter) (map[string]int, error)
}

// Freshness lets handlers wait until the read models include a write.
type Freshness interface {
	WaitFor(ctx context.Context, seq uint64) error
	Sync(ctx context.Context) error
}

// Deps are the API's collaborators.
type Deps struct {
	Auth   Authenticator
	Start  Starter
	Single SingleProcessor // POST /api/single/process; optional
	// SingleWait bounds how long single process waits for the outcome
	// (the document timeout plus a margin); 0: DefaultSingleWait.
	SingleWait time.Duration
	// MaxDocuments bounds the rows of a spreadsheet read for the console
	// (TAGSTREAM_MAX_DOCUMENTS); 0: 10000.
	MaxDocuments int
	Change       Changer
	// OrgCommands and OrgDirectory serve /api/orgs and the organisation
	// roles of every caller; optional (no organisations without them).
	OrgCommands  OrgCommands
	OrgDirectory OrgDirectory
	Retry        Retrier
	// Governance erases jobs and sets legal holds; nil: 503.
	Governance Governor
	Validate   PathValidator
	Jobs       JobReader
	Analytics  AnalyticsReader
	Documents  DocumentSearcher // GET /api/documents, /api/history/stats; nil: 503
	// ExportRows bounds the rows one CSV export of a search streams
	// (TAGSTREAM_EXPORT_ROWS); 0: MaxSearchCSVRows.
	ExportRows int
	Results    ResultReader
	Events     EventReader
	Freshness  Freshness
	Tap        Tapper
	// Projections reports each read model's state and lag for /api/ready;
	// optional.
	Projections func(ctx context.Context) []projections.ModelStatus
	// ReadLease says which process applies the read models when several
	// share one database (nil, or returning nil: not shared); optional.
	ReadLease func() *lease.Status
	Healthy   func() bool // NATS reachable
	// CaughtUp says how far the read models are (applied) against the
	// log's last sequence at startup (target), for /api/ready; optional.
	CaughtUp func() (applied, target uint64)
	// Skipped says how many events this process skipped because a newer
	// release wrote them, and of which types, for /api/ready; optional.
	Skipped  func() (total uint64, summary string)
	Requests RequestObserver // optional: request durations (metrics)
	Metrics  http.Handler
	UI       http.Handler // the web console, served for GET requests outside /api
	Log      *slog.Logger
	Version  string
	// ServerHasKey says whether the server has a model API key of its own
	// (never the key): the console then knows whether a job needs one.
	ServerHasKey bool
	// CursorKey, when set (16 bytes or more, the same in every API
	// process), makes search cursors opaque (doccursor.go).
	CursorKey []byte
	StartRate int // starts, and separately validations, per minute per user; 0: unlimited
	// Limits per client address (the TCP peer, never a forwarded header a
	// client can write): registrations, and separately job starts, per
	// minute (bursts of up to 50, since an office may share an address);
	// 0: unlimited. They stop one address from multiplying the per-user
	// limits by registering many accounts. See DefaultRegisterRate and
	// AddrStartFactor for the values serve uses.
	RegisterRate  int
	AddrStartRate int
	// Timeouts of the body read and the answer write; zero: DefaultTimeouts.
	Timeouts Timeouts
	// MaxStreamsPerUser caps one user's concurrent WebSocket/SSE observers;
	// 0: DefaultMaxStreamsPerUser.
	MaxStreamsPerUser int
	// ValidateDeadline bounds a whole validate-paths request; 0:
	// DefaultValidateDeadline. MaxValidatesPerUser caps a user's concurrent
	// validations; 0: DefaultMaxValidatesPerUser.
	ValidateDeadline    time.Duration
	MaxValidatesPerUser int
}

// Server holds the routes.
type Server struct {
	d             Deps
	cursors       docCursors
	started       time.Time
	cache         renderCache
	startLimit    *rateLimiter
	validateLimit *rateLimiter
	registerLimit *rateLimiter // per client address
	addrStart     *rateLimiter // per client address
	timeouts      Timeouts
	streams       *concurrency // observers per user
	validating    *concurrency // validations per user
	rates         *rateTracker // recent document outcomes, for ETAs
}

// New returns the API as an http.Handler.
func New(d Deps) http.Handler {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	gin.SetMode(gin.ReleaseMode)
	s := newServer(d)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(s.recover, s.logRequests, s.deadlines, limitBody, singleParams, s.guardNATS)
	r.NoRoute(func(c *gin.Context) {
		p := c.Request.URL.Path
		if d.UI != nil && (c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead) &&
			!strings.HasPrefix(p, "/api/") && p != "/metrics" {
			d.UI.ServeHTTP(c.Writer, c.Request)
			return
		}
		fail(c, apperr.New(apperr.NotFound, "no route for %s %s", c.Request.Method, p))
	})
	r.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, gin.H{"detail": "method not allowed", "code": "method_not_allowed"})
	})
	s.routes(r)
	return r
}

func newServer(d Deps) *Server {
	if d.Timeouts == (Timeouts{}) {
		d.Timeouts = DefaultTimeouts
	}
	if d.ValidateDeadline <= 0 {
		d.ValidateDeadline = DefaultValidateDeadline
	}
	return &Server{d: d, started: time.Now(), timeouts: d.Timeouts,
		startLimit: newRateLimiter(d.StartRate), validateLimit: newRateLimiter(d.StartRate),
		registerLimit: newAddrLimiter(d.RegisterRate), addrStart: newAddrLimiter(d.AddrStartRate),
		streams:    newConcurrency(orDefault(d.MaxStreamsPerUser, DefaultMaxStreamsPerUser)),
		validating: newConcurrency(orDefault(d.MaxValidatesPerUser, DefaultMaxValidatesPerUser)),
		cursors:    newDocCursors(d.CursorKey)}
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

func (s *Server) routes(r *gin.Engine) {
	r.GET("/api/health", s.health)
	r.GET("/api/ready", s.ready)
	r.GET("/api/status", s.status)
	r.GET("/api/openapi.json", s.openAPI)
	if s.d.Metrics != nil {
		r.GET("/metrics", gin.WrapH(s.d.Metrics))
	}
	r.GET("/.well-known/jwks.json", s.jwks)
	a := r.Group("/api/auth")
	a.POST("/register", s.limitAddr(s.registerLimit), s.register)
	a.POST("/login", s.login)
	a.POST("/refresh", s.refresh)
	a.POST("/logout", s.logout)
	a.GET("/me", s.authenticate, s.me)
	s.accountRoutes(r)
	s.orgRoutes(r)

	r.GET("/api/batch/ws/:job_id", s.wsJob)
	r.GET("/api/batch/jobs/:job_id/stream", s.sseJob)
	r.GET("/api/analytics/summary", s.authenticate, s.analyticsSummary)
	r.GET("/api/documents", s.authenticate, s.documents)
	r.GET("/api/history/stats", s.authenticate, s.historyStats)
	b := r.Group("/api/batch", s.authenticate)
	b.POST("/start", s.limitAddr(s.addrStart), s.limit(s.startLimit), s.startBatch)
	b.GET("/active", s.active)
	r.POST("/api/exclusions/parse", s.authenticate, s.parseExclusions)
	r.POST("/api/sheets/parse", s.authenticate, s.parseSheet)
	r.POST(singlePath, s.authenticate, s.limitAddr(s.addrStart), s.limit(s.startLimit), s.processSingle)
	b.POST("/validate-paths", s.limit(s.validateLimit), s.validatePaths)
	b.GET("/template", s.template)
	b.GET("/column-rules", s.columnRules)
	b.GET("/jobs", s.jobHistory)
	b.POST("/jobs/:job_id/retry", s.retry)
	b.GET("/jobs/:job_id/status", s.jobStatus)
	b.GET("/jobs/:job_id/results", s.results)
	b.GET("/jobs/:job_id/events", s.jobEvents)
	s.jobExtraRoutes(b)
	b.POST("/jobs/:job_id/cancel", s.change(services.ActionCancel))
	b.POST("/jobs/:job_id/pause", s.change(services.ActionPause))
	b.POST("/jobs/:job_id/resume", s.change(services.ActionResume))
	b.POST("/jobs/:job_id/erase", s.erase)
	b.POST("/jobs/:job_id/legal-hold", s.legalHold)
}

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	apperr.Invalid:      http.StatusBadRequest,
	apperr.Unauthorized: http.StatusUnauthorized,
	apperr.Forbidden:    http.StatusForbidden,
	apperr.NotFound:     http.StatusNotFound,
	apperr.Conflict:     http.StatusConflict,
	apperr.TooLarge:     http.StatusRequestEntityTooLarge,
	apperr.RateLimited:  http.StatusTooManyRequests,
	apperr.Unavailable:  http.StatusServiceUnavailable,
	apperr.Internal:     http.StatusInternalServerError,
}

// fail writes err as {"detail", "code"[, "field"]}; internal errors are
// logged and shown only as "internal error".
func fail(c *gin.Context, err error) {
	if errors.Is(err, errBodyTimeout) {
		c.Header("Connection", "close")
		c.AbortWithStatusJSON(http.StatusRequestTimeout, gin.H{"detail": "request body not received in time", "code": "timeout"})
		return
	}
	err = asUnavailable(c, err)
	code := apperr.Code(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	body := gin.H{"detail": apperr.Message(err), "code": code}
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Field != "" {
		body["field"] = ae.Field
	}
	if status >= 500 {
		slog.Default().Error("request failed", "path", c.FullPath(), "err", err)
	}
	if errors.Is(err, errRetrySoon) && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", "2") // an outage, a catch-up or a failover: seconds, not minutes
	}
	c.AbortWithStatusJSON(status, body)
}

func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r) // abortStream: net/http cuts the connection
			}
			s.d.Log.Error("panic in handler", "path", c.FullPath(), "panic", fmt.Sprint(r))
			fail(c, apperr.Wrap(fmt.Errorf("panic: %v", r), "handler"))
		}
	}()
	c.Next()
}

// logRequests logs method, route and status; never bodies or query strings
// (a WebSocket token may ride in the query).
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	took := time.Since(start)
	s.d.Log.Debug("http", "method", c.Request.Method, "route", c.FullPath(), "path", c.Request.URL.Path,
		"status", c.Writer.Status(), "ms", took.Milliseconds())
	if s.d.Requests != nil {
		s.d.Requests.ObserveRequest(c.FullPath(), c.Writer.Status(), took)
	}
}

// singleParams refuses an API request that gives a query parameter more
// than once: every one takes a single value (lists are comma-separated),
// and reading the first silently (job_id=nope&job_id=mine answered
// nothing, tag=a&tag=b searched for a) is an answer to another question.
func singleParams(c *gin.Context) {
	if strings.HasPrefix(c.Request.URL.Path, "/api/") {
		allowed, listed := queryParams[c.Request.Method+" "+c.FullPath()]
		for name, vs := range c.Request.URL.Query() {
			if len(vs) > 1 {
				fail(c, apperr.Field(name, "is given more than once; it takes one value")) // aborts the chain
				return
			}
			// A parameter the endpoint does not take was ignored: results
			// ?status=failed answered every row, as if filtered.
			if listed && !slices.Contains(allowed, name) {
				takes := "none"
				if len(allowed) > 0 {
					takes = strings.Join(allowed, ", ")
				}
				fail(c, apperr.Field(name, "is not a parameter of %s %s (it takes: %s)", c.Request.Method, c.FullPath(), takes))
				return
			}
		}
	}
	c.Next()
}

// queryParams is each authenticated route's query parameters (gin's
// path, ":id"), from the OpenAPI operations, which a test holds to the
// registered routes. Health, readiness and the other open endpoints take
// any: a monitor's probe with a parameter of its own must not read as
// the service being down.
var queryParams = func() map[string][]string {
	out := map[string][]string{}
	for _, op := range operations {
		if op.auth {
			out[op.method+" "+pathParam.ReplaceAllString(op.path, ":$1")] = op.query
		}
	}
	return out
}()

func limitBody(c *gin.Context) {
	// An upload is bounded by the fetch cap instead (processSingle).
	if c.Request.Body != nil && c.Request.URL.Path != singlePath {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes)
	}
	c.Next()
}

// decode reads a JSON body strictly: unknown fields, trailing data and
// wrong types are input errors that name the field.
func decode(c *gin.Context, dst any, optional bool) error {
	return decodeJSON(c.Request.Body, dst, optional)
}

// decodeJSON is decode on any reader (at most MaxBodyBytes are read), so
// body decoding can be tested and fuzzed without a server.
func decodeJSON(r io.Reader, dst any, optional bool) error {
	if r == nil {
		r = bytes.NewReader(nil)
	}
	// A nil ResponseWriter is allowed: the limit then only reports the error.
	body := newUTF8Checker(http.MaxBytesReader(nil, io.NopCloser(r), MaxBodyBytes))
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	dec.UseNumber()
	err := dec.Decode(dst)
	if errors.Is(err, io.EOF) && optional {
		return nil
	}
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			return apperr.New(apperr.Invalid, "request body must be a single JSON object")
		}
		if at := body.firstInvalid(); at >= 0 {
			return apperr.New(apperr.Invalid, "request body is not valid UTF-8 (byte %d); JSON must be UTF-8", at)
		}
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae
	}
	var maxErr *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.Is(err, errBodyTimeout):
		return errBodyTimeout
	case errors.As(err, &maxErr):
		return apperr.New(apperr.TooLarge, "request body exceeds %d MiB", MaxBodyBytes>>20)
	case errors.Is(err, io.EOF):
		return apperr.New(apperr.Invalid, "request body is empty; a JSON object is required")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return apperr.New(apperr.Invalid, "request body must be a JSON object")
		}
		return apperr.Field(field, "must be %s, not %s", kindName(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return apperr.New(apperr.Invalid, "malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.Field(name, "unknown field")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Invalid, "malformed JSON: unexpected end of body")
	}
	return apperr.New(apperr.Invalid, "malformed JSON: %v", err)
}

func kindName(k string) string {
	switch k {
	case "int", "int64", "uint", "uint64":
		return "an integer" // "must be a number, not number 8.5" explained nothing
	case "float64":
		return "a number"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	case "bool":
		return "true or false"
	}
	return "of type " + k
}
