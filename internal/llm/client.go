// Package llm asks an OpenAI-compatible chat endpoint (OpenRouter, OpenAI,
// a local server) for document tags through langchaingo, and makes the
// result dependable: typed errors, retries that honour Retry-After, a pace
// shared by all documents of a job, robust parsing of the answer and
// exactly the requested number of tags whenever the text supports it.
package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"
)

// Config configures a Client. Zero values mean the defaults noted.
type Config struct {
	BaseURL     string                                           // TAGSTREAM_LLM_BASE_URL, e.g. https://openrouter.ai/api/v1 (langchaingo posts to {base}/chat/completions)
	HTTPClient  *http.Client                                     // optional; transport to wrap
	DocTimeout  time.Duration                                    // per-document deadline, default 5m
	MaxAttempts int                                              // retry budget for 5xx/timeouts per document, default 6 (429s are bounded by DocTimeout)
	MaxBackoff  time.Duration                                    // default 60s
	Sleep       func(ctx context.Context, d time.Duration) error // test hook; default real sleep honouring ctx

	// UnreachableAttempts bounds the calls one document makes to an
	// endpoint it cannot connect to (KindUnreachable); default 2.
	UnreachableAttempts int

	// AttemptTimeout bounds one HTTP call, so that a hung connection is
	// retried within the document's deadline; default DocTimeout/3.
	AttemptTimeout time.Duration

	// Observer hears about calls, tokens and rate-limit waits (metrics);
	// nil means nobody listens.
	Observer Observer

	// MaxConcurrency caps the calls in flight per model and key in this
	// process (TAGSTREAM_WORKERS); the adaptive limiter learns the
	// provider's allowance below it. Default DefaultMaxConcurrency.
	MaxConcurrency int
	// SharedLimits shares learned limits with other processes using the
	// same model and key (NATS KV in production); nil keeps them local.
	SharedLimits SharedLimits
}

// Default values of Config.
const (
	DefaultBaseURL     = "https://openrouter.ai/api/v1"
	DefaultDocTimeout  = 5 * time.Minute
	DefaultMaxAttempts = 6
	DefaultMaxBackoff  = 60 * time.Second
	// DefaultMaxConcurrency matches the worker pool's default ceiling.
	DefaultMaxConcurrency = 32
	defaultBaseBackoff    = time.Second
	defaultNumTags        = 8
	maxNumTags            = 15
)

// Request is one document to tag.
type Request struct {
	Model      string // passed through verbatim, e.g. "openai/gpt-4o-mini"
	APIKey     string // the job's key or the server's; never read from env
	Text       string // extracted document text
	Title      string // optional
	NumTags    int    // 3..15; 0 means 8, more than 15 means 15
	Exclusions []string
	PaceKey    string // e.g. the job id: all calls with one PaceKey share one pacer
	// OriginalLanguage keeps tags in the document's language and script
	// (job config tag_language "original"); by default tags are English.
	OriginalLanguage bool
}

// Result is the outcome of Tag. Tag also returns it, filled as far as it
// got, together with an error, so that failed documents still report the
// calls and tokens they cost.
type Result struct {
	Tags                                        []string
	Model                                       string
	PromptTokens, CompletionTokens, TotalTokens int
	Calls                                       int // HTTP calls made incl. retries and the follow-up
	Attempts                                    int // times the main request was sent, counting retries
	Duration                                    time.Duration
}

// Client tags documents. It is safe for concurrent use; one Client should
// serve the whole process so that pacers are shared.
type Client struct {
	cfg         Config
	http        *http.Client
	baseBackoff time.Duration
	paceFloor   time.Duration
	pacers      pacers
	limiters    limiters
	noJSONMode  sync.Map // base URL + model -> true once JSON mode was refused
}

// New returns a Client with cfg's defaults filled in.
func New(cfg Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.DocTimeout <= 0 {
		cfg.DocTimeout = DefaultDocTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	if cfg.UnreachableAttempts <= 0 {
		cfg.UnreachableAttempts = DefaultUnreachableAttempts
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = cfg.DocTimeout / 3
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = DefaultMaxConcurrency
	}
	hc := cfg.HTTPClient
	if hc == nil {
		// No client timeout: deadlines come from the contexts.
		hc = &http.Client{Transport: pooledTransport()}
	}
	return &Client{cfg: cfg, http: hc, baseBackoff: defaultBaseBackoff, paceFloor: defaultPaceFloor,
		limiters: limiters{max: cfg.MaxConcurrency, now: time.Now, shared: cfg.SharedLimits}}
}

// Tag asks req.Model for req.NumTags tags of req.Text. Errors are *Error,
// except when ctx itself ends: then ctx.Err() is returned, so that callers
// can tell their own cancellation from a model timeout.
func (c *Client) Tag(ctx context.Context, req Request) (*Result, error) {
	started := time.Now()
	res := &Result{Model: req.Model}
	d := &docCall{c: c, req: req, res: res, callerCtx: ctx}
	tags, err := d.run()
	res.Tags = tags
	res.Calls = int(d.calls.Load())
	res.Duration = time.Since(started)
	if err != nil {
		return res, err
	}
	return res, nil
}

// docCall is the state of one Tag call: the shared retry budget, the
// conversation so far and the counters for Result.
type docCall struct {
	c         *Client
	req       Request
	res       *Result
	callerCtx context.Context
	ctx       context.Context // callerCtx plus DocTimeout
	calls     atomic.Int64
	failures  int // transient failures so far, against MaxAttempts
	limited   int // 429 answers so far (bounded by the deadline, not MaxAttempts)
	// mainLimited: those of the main call, whose attempts res.Attempts counts.
	mainLimited int
	unreached   int // calls that could not connect, against UnreachableAttempts
	jsonMode    bool
	job, key    *pacer
	lim         *limiter
	// concurrencyLimited: the last answer announced rate buckets that all
	// had room, so a 429 in it was about concurrency, not the buckets.
	concurrencyLimited bool
	lastRate           rateHeaders
}

func (d *docCall) run() ([]string, error) {
	req := &d.req
	if strings.TrimSpace(req.Model) == "" {
		return nil, &Error{Kind: KindBadRequest, Message: "no model name given"}
	}
	if req.APIKey == "" {
		return nil, &Error{Kind: KindAuth, Message: "no API key for model " + req.Model}
	}
	if req.NumTags <= 0 {
		req.NumTags = defaultNumTags
	}
	req.NumTags = min(req.NumTags, maxNumTags)

	var cancel context.CancelFunc
	d.ctx, cancel = context.WithTimeout(d.callerCtx, d.c.cfg.DocTimeout)
	defer cancel()
	_, refused := d.c.noJSONMode.Load(d.c.cfg.BaseURL + "\x00" + req.Model)
	d.jsonMode = !refused
	if req.PaceKey != "" {
		d.job = d.c.pacers.get("job\x00" + req.PaceKey)
	} else {
		d.job = &pacer{}
	}
	// The provider's limit is per key, so a Retry-After also holds back
	// other jobs using the same key. Only a hash of the key is kept.
	sum := sha256.Sum256([]byte(req.APIKey))
	d.key = d.c.pacers.get("key\x00" + hex.EncodeToString(sum[:]))
	// Concurrency is learned per model and key: providers limit both.
	d.lim = d.c.limiters.get(limiterID(req.Model, req.APIKey))

	msgs := []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeSystem, systemPrompt),
		llms.TextParts(llms.ChatMessageTypeHuman, buildPrompt(*req, reduceText(req.Text))),
	}
	answer, err := d.call(msgs, true)
	if err != nil {
		return nil, err
	}
	tags := selectTags(parseAnswer(answer), req.Exclusions, req.NumTags, req.OriginalLanguage)
	if len(tags) >= req.NumTags {
		return tags, nil
	}

	// One follow-up, never more: a text that cannot yield more tags would
	// otherwise cost calls without end.
	missing := req.NumTags - len(tags)
	msgs = append(msgs,
		llms.TextParts(llms.ChatMessageTypeAI, answer),
		llms.TextParts(llms.ChatMessageTypeHuman, followUpPrompt(*req, tags, missing)))
	more, err := d.call(msgs, false)
	if err != nil {
		var e *Error
		// Keep a partial result for transient trouble; auth and the
		// caller's cancellation must still surface.
		if len(tags) == 0 || !errors.As(err, &e) || e.Kind == KindAuth {
			return tags, err
		}
		return tags, nil
	}
	extra := parseAnswer(more).all()
	tags = append(tags, extra...)
	tags = selectTags(tiers{flat: tags}, req.Exclusions, req.NumTags, req.OriginalLanguage)
	if len(tags) == 0 {
		return nil, &Error{Kind: KindMalformed, Message: "model " + req.Model + " returned no usable tags"}
	}
	return tags, nil
}

// call sends msgs until it gets an answer, retrying transient failures
// within the document's budget and deadline.
func (d *docCall) call(msgs []llms.MessageContent, main bool) (string, error) {
	cfg := d.c.cfg
	for {
		// The concurrency slot comes first, so that the pacers space the
		// calls actually leaving, not callers still queued for a slot.
		t, err := d.lim.acquire(d.ctx, d.pacedSleep)
		if err != nil {
			return "", d.ctxError(err)
		}
		if err := d.job.wait(d.ctx, d.pacedSleep); err != nil {
			d.lim.release(t, outcomeOther, 0, 0)
			return "", d.ctxError(err)
		}
		if err := d.key.wait(d.ctx, d.pacedSleep); err != nil {
			d.lim.release(t, outcomeOther, 0, 0)
			return "", d.ctxError(err)
		}
		if main {
			d.res.Attempts++
		}
		began := time.Now()
		d.concurrencyLimited = false
		content, err := d.once(msgs)
		took := time.Since(began)
		if err == nil {
			d.concurrencyLimited = false
		}
		lone := d.lim.release(t, limiterOutcome(err), took, retryAfterOf(err))
		cfg.Observer.ModelCall(d.req.Model, callOutcome(err), took)
		if err == nil {
			d.job.succeeded(d.c.paceFloor)
			return content, nil
		}
		if d.ctx.Err() != nil {
			return "", d.ctxError(d.ctx.Err())
		}
		var e *Error
		if !errors.As(err, &e) {
			// langchaingo's own errors: an undecodable or empty 200 body.
			return "", &Error{Kind: KindMalformed, Message: "unreadable answer from model " + d.req.Model + ": " + redact(err.Error(), d.req.APIKey)}
		}
		switch {
		case e.Kind == KindAuth:
			return "", &Error{Kind: KindAuth, Status: e.Status, Message: "invalid API key for model " + d.req.Model}
		case e.Kind == KindBadRequest && d.jsonMode && mentionsJSONMode(e.Message):
			// Some OpenAI-compatible servers reject response_format; ask
			// again without it, and remember for later documents.
			d.jsonMode = false
			d.c.noJSONMode.Store(cfg.BaseURL+"\x00"+d.req.Model, true)
			continue
		case e.Kind == KindUnreachable:
			// Not the document's fault and not worth the long budget of
			// a 5xx: one short retry, then the caller decides for the job.
			d.unreached++
			if d.unreached >= cfg.UnreachableAttempts {
				return "", e
			}
			if err := cfg.Sleep(d.ctx, unreachableBackoff); err != nil {
				return "", d.ctxError(err)
			}
			continue
		case !e.Transient():
			return "", e
		}
		// A 429 is the provider asking us to wait, not a failure of the
		// document: it does not spend the retry budget, only the
		// document's deadline bounds it (checked below).
		if e.Kind == KindRateLimited {
			d.limited++
			if main {
				d.mainLimited++
			}
			d.key.refused()
		} else {
			d.failures++
			if d.failures >= cfg.MaxAttempts {
				return "", d.exhausted(e)
			}
		}
		// The provider's Retry-After is the delay; our own exponential
		// backoff only stands in when it gave none.
		delay := e.RetryAfter
		switch {
		case delay > 0:
		case e.Kind == KindRateLimited && lone:
			// A lone refusal: retry soon, like a fresh call; a second
			// 429 gets the full backoff.
			delay = loneRetry/2 + rand.N(loneRetry/2+1)
		default:
			delay = d.backoff()
		}
		switch {
		case e.Kind == KindRateLimited && d.concurrencyLimited:
			// The buckets had room: too many calls at once, which the
			// limiter has just corrected. Only this call waits.
		case e.Kind == KindRateLimited && lone && e.RetryAfter <= 0:
			// One refusal among calls that get through, without a hint:
			// the provider's hiccup, not a pace to find. Only this call
			// waits; pacing the job (and holding the key) for it cost a
			// job most of its throughput. A second 429 is not lone.
		case e.Kind == KindRateLimited && e.RetryAfter > 0:
			// The provider said when to come back: hold the whole job and
			// every job on this key until then. Its hint is the pace; also
			// ratcheting the interval on top would double it for every
			// concurrent 429 of one burst and starve the job.
			d.job.block(delay)
			d.key.block(delay)
		case e.Kind == KindRateLimited:
			// No hint: find a pace ourselves.
			d.job.rateLimited(delay, d.c.paceFloor, cfg.MaxBackoff)
			d.key.block(delay)
		case e.RetryAfter > 0:
			d.job.block(delay)
		}
		if dl, ok := d.ctx.Deadline(); ok && time.Until(dl) < delay {
			// Waiting would outlast the document: report why we stopped.
			return "", d.exhausted(e)
		}
		if e.Kind == KindRateLimited {
			cfg.Observer.RateLimitWait(delay)
		}
		if err := cfg.Sleep(d.ctx, delay); err != nil {
			return "", d.ctxError(err)
		}
	}
}

// once makes one HTTP call through langchaingo with a fresh client: cheap
// (no network), and it keeps the key out of any shared state.
func (d *docCall) once(msgs []llms.MessageContent) (string, error) {
	cfg := d.c.cfg
	ctx, cancel := context.WithTimeout(d.ctx, cfg.AttemptTimeout)
	defer cancel()
	hc := &doer{client: d.c.http, key: d.req.APIKey, calls: &d.calls, now: time.Now,
		before: d.holdWhileBlocked, limited: d.retryAfterSeen, headers: d.rateHeadersSeen}
	// Token and base URL are always explicit: otherwise langchaingo falls
	// back to OPENAI_API_KEY and OPENAI_BASE_URL.
	model, err := openai.New(
		openai.WithBaseURL(cfg.BaseURL),
		openai.WithToken(d.req.APIKey),
		openai.WithModel(d.req.Model),
		openai.WithHTTPClient(hc),
	)
	if err != nil {
		return "", &Error{Kind: KindBadRequest, Message: "cannot configure model client: " + redact(err.Error(), d.req.APIKey)}
	}
	var opts []llms.CallOption
	if d.jsonMode {
		opts = append(opts, llms.WithJSONMode())
	}
	resp, err := model.GenerateContent(ctx, msgs, opts...)
	if err != nil {
		if ctx.Err() != nil && d.ctx.Err() == nil {
			// Only this attempt's deadline passed: a retryable timeout.
			return "", &Error{Kind: KindTimeout, Message: fmt.Sprintf("model %s did not answer within %s", d.req.Model, cfg.AttemptTimeout)}
		}
		return "", err
	}
	if len(resp.Choices) == 0 {
		return "", errors.New("no choices in answer")
	}
	ch := resp.Choices[0]
	prompt, completion := intInfo(ch.GenerationInfo, "PromptTokens"), intInfo(ch.GenerationInfo, "CompletionTokens")
	d.res.PromptTokens += prompt
	d.res.CompletionTokens += completion
	cfg.Observer.ModelTokens(d.req.Model, prompt, completion)
	d.res.TotalTokens += intInfo(ch.GenerationInfo, "TotalTokens")
	d.key.observeTokens(intInfo(ch.GenerationInfo, "TotalTokens"))
	if d.lastRate.tokens.ok {
		// The tokens bucket is counted in calls only once a call's cost
		// is known: the first answer's headers arrive before its usage.
		d.applyBudget()
	}
	return ch.Content, nil
}

func intInfo(m map[string]any, k string) int {
	if v, ok := m[k].(int); ok {
		return v
	}
	return 0
}

// backoff is exponential with equal jitter: half fixed, so that there is a
// floor, half random, so that concurrent documents spread out.
func (d *docCall) backoff() time.Duration {
	exp := min(d.c.baseBackoff<<min(max(d.failures+d.limited-1, 0), 20), d.c.cfg.MaxBackoff)
	half := exp / 2
	return half + rand.N(half+1)
}

// exhausted reports the last transient failure once retries are spent.
func (d *docCall) exhausted(e *Error) *Error {
	out := *e
	switch {
	case e.Kind == KindRateLimited && d.failures > 0:
		// Failures first, then refusals: the model's own trouble, not only
		// the provider's limit (a rate-limited document is given back).
		out.Kind = KindServer
		out.Message = fmt.Sprintf("model %s failed %d times, then was rate limited (HTTP 429) past the document's deadline", d.req.Model, d.failures)
	case e.Kind == KindRateLimited:
		out.Message = fmt.Sprintf("rate limited by the provider of model %s (HTTP 429), gave up after %d attempts within the document's deadline", d.req.Model, d.limited)
	case e.Kind == KindTimeout:
		if e.Message == "" {
			out.Message = fmt.Sprintf("model %s timed out, gave up after %d attempts", d.req.Model, d.failures)
		}
	default:
		msg := fmt.Sprintf("model %s failed (HTTP %d), gave up after %d attempts", d.req.Model, e.Status, d.failures)
		if e.Status == 0 {
			// No answer at all: "HTTP 0" would read as a status.
			msg = fmt.Sprintf("model %s failed without an answer, gave up after %d attempts", d.req.Model, d.failures)
		}
		if e.Message != "" {
			msg += ": " + e.Message
		}
		out.Message = msg
	}
	return &out
}

// ctxError turns the end of the document's context into the caller's own
// error, or into a timeout when only DocTimeout passed. langchaingo
// rewraps context errors, hence the explicit checks.
func (d *docCall) ctxError(err error) error {
	if cerr := d.callerCtx.Err(); cerr != nil {
		if errors.Is(cerr, context.DeadlineExceeded) && d.starved() {
			// The caller's deadline (the worker's, for the whole
			// document) passed first, but it was spent the same way.
			return d.rateLimitedError()
		}
		return cerr
	}
	if d.ctx.Err() != nil {
		if d.starved() {
			// Every refusal was a 429: the provider's limit, not a slow
			// model, used up the deadline, whether it ran out during a
			// wait or during the next call.
			return d.rateLimitedError()
		}
		return &Error{Kind: KindTimeout, Message: fmt.Sprintf("model %s did not finish within %s", d.req.Model, d.c.cfg.DocTimeout)}
	}
	return err
}

func mentionsJSONMode(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "response_format") || strings.Contains(m, "json_object") || strings.Contains(m, "json mode")
}

// starved reports a document whose deadline went on the provider's rate
// limit: every call it made was refused (429), none failed otherwise, and
// either some of its own calls were refused or, when the deadline came,
// the key was held by a Retry-After or still being refused (a document
// waiting behind such a key may never call). A slow model with a 429 now
// and then is none of these: its documents time out as before.
func (d *docCall) starved() bool {
	if d.failures > 0 || d.res.Attempts != d.mainLimited {
		return false
	}
	return d.mainLimited > 0 || d.key.blockedNow() || d.key.refusedSince(time.Now().Add(-refusingWindow))
}

// refusingWindow is how recent a 429 on the key must be for it to be
// refusing still.
const refusingWindow = 10 * time.Second

func (d *docCall) rateLimitedError() error {
	return &Error{Kind: KindRateLimited, Status: 429, Message: fmt.Sprintf("model %s kept answering 429 (rate limited) until the document's deadline", d.req.Model)}
}

// holdWhileBlocked is the last look at the pacers right before a request
// goes out: a Retry-After that another document received after this one
// left its pacer wait (while it was building the request or waiting for a
// connection) still holds it back.
func (d *docCall) holdWhileBlocked(ctx context.Context) error {
	if err := d.job.holdWhileBlocked(ctx, d.pacedSleep); err != nil {
		return err
	}
	return d.key.holdWhileBlocked(ctx, d.pacedSleep)
}

// retryAfterSeen blocks the job and the key as soon as a response carries a
// Retry-After, before the answer has gone back through langchaingo, so
// that other documents stop sending at once.
func (d *docCall) retryAfterSeen(status int, retryAfter time.Duration) {
	if retryAfter <= 0 || (status == http.StatusTooManyRequests && d.concurrencyLimited) {
		return
	}
	d.job.block(retryAfter)
	if status == http.StatusTooManyRequests {
		d.key.block(retryAfter)
	}
}

// loneRetry is the most a call refused by a lone 429 (see limiter.go)
// without Retry-After waits before it is sent again: about a slow answer,
// not the seconds of backoff that held a worker idle for each of them.
const loneRetry = 250 * time.Millisecond

// maxIdlePerHost keeps a connection per concurrent document to the model's
// host. net/http's default of 2 made every call beyond the second open a
// new connection (a TLS handshake in production) and close it afterwards.
const maxIdlePerHost = 256

// pooledTransport is net/http's default transport with enough idle
// connections per host for every worker slot.
func pooledTransport() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport // replaced by the program: use it as is
	}
	t = t.Clone()
	t.MaxIdleConns = max(t.MaxIdleConns, maxIdlePerHost)
	t.MaxIdleConnsPerHost = maxIdlePerHost
	return t
}

// rateHeadersSeen turns the provider's rate-limit headers into the key's
// budget as soon as an answer arrives.
func (d *docCall) rateHeadersSeen(h http.Header) {
	d.lastRate = parseRateHeaders(h, time.Now())
	d.concurrencyLimited = d.lastRate.hasRoom()
	d.applyBudget()
}

func (d *docCall) applyBudget() {
	others := max(d.lim.inFlight()-1, 0)
	if credit, interval, ok := budget(d.lastRate, others, d.key.avgTokens()); ok {
		d.key.setBudget(credit, interval)
	}
}

// limiterOutcome says what a call's result means for the limiter.
func limiterOutcome(err error) outcome {
	var e *Error
	switch {
	case err == nil:
		return outcomeSuccess
	case !errors.As(err, &e):
		return outcomeAnswered // langchaingo could not read a 200's body
	case e.Kind == KindRateLimited:
		return outcomeLimited
	case e.Kind == KindBadRequest || e.Kind == KindMalformed || e.Kind == KindAuth:
		return outcomeAnswered
	}
	return outcomeOther
}

func retryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// limiterID names a model and key's limiter, here and in the shared store,
// by a hash: the key itself is never kept or shared.
func limiterID(model, apiKey string) string {
	sum := sha256.Sum256([]byte(model + "\x00" + apiKey))
	return hex.EncodeToString(sum[:16])
}
