package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tagstream/tagstream/events"
	"github.com/tagstream/tagstream/internal/fetch"
	"github.com/tagstream/tagstream/internal/keywords"
	"github.com/tagstream/tagstream/internal/llm"
	"github.com/tagstream/tagstream/internal/ocr"
	"github.com/tagstream/tagstream/internal/pdftext"
)

// MinTextChars is the least text worth tagging, as in the original product.
const MinTextChars = 50

// CodeModelUnreachable is the code of a document, and of the job pause or
// failure, when the model endpoint could not be reached.
const CodeModelUnreachable = "model_unreachable"

// CodeModelRateLimited is the code when the model's provider kept
// answering 429 until the document's deadline (services/job has its twin).
const CodeModelRateLimited = "model_rate_limited"

// KeywordsModel is the offline tagger's model id: no API key, no network.
const KeywordsModel = "builtin/keywords"

// Values of JobConfig.TagLanguage: English tags (the default, also for
// "") or tags in the document's own script.
const (
	TagLanguageEnglish  = "en"
	TagLanguageOriginal = "original"
)

// Pipeline is the production Tagger: fetch the document, extract the text
// of its first pages, and ask the model (or the offline keyword tagger).
type Pipeline struct {
	fetcher *fetch.Fetcher
	model   *llm.Client
	mcfg    llm.Config
	extract pdftext.Options
	uploads UploadStore
	prices  llm.Prices
	memo    *fetchMemo
}

// UploadStore returns the bytes uploaded for a job's document, stored
// under their SHA-256 (hex); workers may run on other machines than the
// API that received them.
type UploadStore interface {
	Get(ctx context.Context, jobID, sum string) ([]byte, error)
}

// UseUploads gives the pipeline the store of uploaded documents. Like
// ObserveModel it is a setter because the tagger exists before NATS does;
// call it before the first Tag.
func (p *Pipeline) UseUploads(u UploadStore) { p.uploads = u }

var _ Tagger = (*Pipeline)(nil)

// NewPipeline wires the adapters; one Pipeline serves the whole process so
// the model client's per-job pacers are shared by every worker slot.
func New(f fetch.Config, m llm.Config, extract pdftext.Options) *Pipeline {
	return &Pipeline{fetcher: fetch.New(f), model: llm.New(m), mcfg: m, extract: extract, prices: llm.DefaultPrices,
		memo: newFetchMemo(memoBytes, memoTTL)}
}

// SetPrices sets the price table that DocumentTagged costs come from
// (TAGSTREAM_MODEL_PRICES); call it before the first Tag.
func (p *Pipeline) SetPrices(prices llm.Prices) { p.prices = prices }

// ObserveModel reports the pipeline's model calls to o (metrics). The
// tagger is built before the process's metrics exist, hence a setter; call
// it before the first Tag, as it replaces the model client.
func (p *Pipeline) ObserveModel(o llm.Observer) {
	p.mcfg.Observer = o
	p.model = llm.New(p.mcfg)
}

// ShareModelLimits shares the model client's learned provider limits with
// other processes (NATS KV); like ObserveModel, call it before the first Tag.
func (p *Pipeline) ShareModelLimits(s llm.SharedLimits) {
	p.mcfg.SharedLimits = s
	p.model = llm.New(p.mcfg)
}

// Tag implements Tagger.
func (p *Pipeline) Tag(ctx context.Context, in TagInput) (TagOutput, error) {
	start := time.Now()
	md := events.TagMetadata{Model: in.Config.Model, ExtractorVersion: pdftext.ExtractorVersion}
	fail := func(code, reason string) (TagOutput, error) {
		md.DurationMS = time.Since(start).Milliseconds()
		return TagOutput{}, &Failure{Code: code, Reason: reason, Metadata: md}
	}
	var data []byte
	var err error
	if in.Probe != nil {
		data, err = in.Probe.data, in.Probe.err
	} else {
		data, err = p.read(ctx, in)
	}
	if err != nil {
		var fe *fetch.Error
		if errors.As(err, &fe) {
			return fail("fetch_"+fe.Code, fe.Reason)
		}
		return fail("fetch", err.Error())
	}
	sum := sha256.Sum256(data)
	md.ContentSHA256 = hex.EncodeToString(sum[:])
	cacheKey := ""
	if cachable(in) {
		cacheKey = CacheKey(in.Owner, md.ContentSHA256, in.Config)
		if in.Probe == nil {
			if out, ok := lookup(ctx, in, cacheKey, md, start); ok {
				return out, nil
			}
		}
	}
	opts := p.extract
	opts.MaxPages = in.Config.NumPages
	text, err := extractText(ctx, data, opts, in.Config)
	if text != nil {
		md.Method, md.PagesRead, md.PageCount = text.Method, text.PagesRead, text.PageCount
		md.TextLength = utf8.RuneCountInString(text.Text)
		md.OCRConfidence = text.Confidence
	}
	switch {
	case err != nil && ctx.Err() != nil:
		// Pause, cancel or shutdown stopped OCR: not the document's fault.
		return TagOutput{}, ctx.Err()
	case errors.Is(err, ocr.ErrUnavailable):
		return fail("scanned", err.Error())
	case errors.Is(err, pdftext.ErrScanned):
		// The error says what happened: no text layer and OCR off, or OCR
		// ran and found no words (OCR unavailable is the case above).
		if mode, _ := ocr.ParseMode(in.Config.OCR); mode == ocr.ModeOff {
			return fail("scanned", err.Error()+" and job config ocr is off")
		}
		return fail("scanned", err.Error())
	case errors.Is(err, pdftext.ErrBudget):
		// The message names the budget, never the document's content.
		return fail("extract_budget", err.Error())
	case errors.Is(err, ocr.ErrLowConfidence):
		return fail("ocr_low_confidence", err.Error())
	case errors.Is(err, ocr.ErrPageTimeout):
		return fail("ocr_timeout", err.Error())
	case errors.Is(err, ocr.ErrBudget):
		// A renderer or recogniser stopped by its memory or CPU budget.
		return fail("ocr_budget", err.Error())
	case err != nil:
		return fail("extract", err.Error())
	case md.TextLength < MinTextChars && text.OCRErr != nil:
		// The thin text layer was kept because OCR failed: say why.
		code := "extract"
		switch {
		case errors.Is(text.OCRErr, ocr.ErrBudget):
			code = "ocr_budget"
		case errors.Is(text.OCRErr, ocr.ErrPageTimeout):
			code = "ocr_timeout"
		}
		return fail(code, fmt.Sprintf("%v; the text layer has only %d characters", text.OCRErr, md.TextLength))
	case md.TextLength < MinTextChars:
		return fail("insufficient_text", fmt.Sprintf("Insufficient text extracted (%d characters)", md.TextLength))
	}
	var tags []string
	if in.Config.Model == KeywordsModel {
		tags, err = keywords.ExtractWith(text.Text, in.Config.NumTags, in.Config.ExclusionWords,
			keywords.Options{KeepScript: in.Config.TagLanguage == TagLanguageOriginal})
		if err != nil {
			return fail("no_tags", err.Error())
		}
	} else {
		res, err := p.model.Tag(ctx, llm.Request{Model: in.Config.Model, APIKey: in.APIKey, Text: text.Text,
			Title: in.Document.Title, NumTags: in.Config.NumTags, Exclusions: in.Config.ExclusionWords, PaceKey: in.JobID,
			OriginalLanguage: in.Config.TagLanguage == TagLanguageOriginal})
		md.PromptVersion = llm.PromptVersion
		if res != nil {
			md.PromptTokens, md.CompletionTokens, md.TotalTokens = res.PromptTokens, res.CompletionTokens, res.TotalTokens
			md.Calls = res.Calls
			cost, known := p.prices.Cost(in.Config.Model, res.PromptTokens, res.CompletionTokens)
			md.CostUSD, md.CostKnown = cost, &known
		}
		if err != nil {
			var le *llm.Error
			typed := errors.As(err, &le)
			// A deadline spent on the provider's 429s is its rate limit,
			// not a slow document: released, not failed (below).
			spent := typed && le.Kind == llm.KindRateLimited && errors.Is(ctx.Err(), context.DeadlineExceeded)
			if ctx.Err() != nil && !spent {
				return TagOutput{}, ctx.Err()
			}
			if typed {
				md.DurationMS = time.Since(start).Milliseconds()
				code := "llm_" + string(le.Kind)
				switch le.Kind {
				case llm.KindUnreachable:
					code = CodeModelUnreachable
				case llm.KindRateLimited:
					code = CodeModelRateLimited
				}
				return TagOutput{}, &Failure{Code: code, Reason: le.Error(), JobFatal: le.Kind == llm.KindAuth,
					Unreachable: le.Kind == llm.KindUnreachable || le.Kind == llm.KindRateLimited, Metadata: md}
			}
			return fail("llm", err.Error())
		}
		tags = res.Tags
	}
	if len(tags) == 0 {
		return fail("no_tags", "no usable tags could be produced from the text")
	}
	md.DurationMS = time.Since(start).Milliseconds()
	if md.Calls == 0 {
		cacheKey = "" // nothing worth remembering without a model call
	}
	return TagOutput{Tags: tags, Metadata: md, CacheKey: cacheKey}, nil
}

// Cached implements CacheProbe: the document's bytes are read and hashed,
// and the cache asked; no extraction, no model. A document that cannot
// be read is no hit, and Tag reports why without reading it again.
func (p *Pipeline) Cached(ctx context.Context, in TagInput) (TagOutput, bool, *Probe) {
	if !cachable(in) || in.Cache == nil {
		return TagOutput{}, false, nil
	}
	start := time.Now()
	data, err := p.read(ctx, in)
	if err != nil {
		return TagOutput{}, false, &Probe{err: err}
	}
	sum := sha256.Sum256(data)
	md := events.TagMetadata{Model: in.Config.Model, ExtractorVersion: pdftext.ExtractorVersion, ContentSHA256: hex.EncodeToString(sum[:])}
	if out, ok := lookup(ctx, in, CacheKey(in.Owner, md.ContentSHA256, in.Config), md, start); ok {
		return out, true, nil
	}
	return TagOutput{}, false, &Probe{data: data}
}

// cachable reports whether a model's tags for in may come from, and go
// to, the content cache.
func cachable(in TagInput) bool {
	return CacheApplies(in.Config) && in.Owner != ""
}

// lookup returns the cached tags under key as a tagging of in, if any. A
// cache that cannot answer only costs a model call.
func lookup(ctx context.Context, in TagInput, key string, md events.TagMetadata, start time.Time) (TagOutput, bool) {
	if in.Cache == nil {
		return TagOutput{}, false
	}
	hit, ok, err := in.Cache.Get(ctx, key)
	if err != nil || !ok || hit.Seq == 0 || len(hit.Tags) == 0 {
		return TagOutput{}, false
	}
	md.CachedFrom, md.PromptVersion = hit.Seq, llm.PromptVersion
	md.DurationMS = time.Since(start).Milliseconds()
	return TagOutput{Tags: hit.Tags, Metadata: md}, true
}

// read returns the document's bytes: from the upload store for uploads,
// else through the fetcher and its rules.
func (p *Pipeline) read(ctx context.Context, in TagInput) ([]byte, error) {
	if in.Document.SourceType != fetch.TypeUpload {
		src := fetch.Source{Type: in.Document.SourceType, Path: in.Document.FilePath}
		key := in.JobID + "\x00" + src.Type + "\x00" + src.Path
		if k, ok := SourceKey(in.Document); ok {
			key = in.JobID + "\x00" + k
		}
		return p.memo.read(ctx, key, func(ctx context.Context) ([]byte, error) { return p.fetcher.Fetch(ctx, src) })
	}
	if p.uploads == nil {
		return nil, &fetch.Error{Code: fetch.CodeBadSource, Reason: "uploaded documents are not available to this worker"}
	}
	sum, ok := UploadSum(in.Document.FilePath)
	if !ok {
		return nil, &fetch.Error{Code: fetch.CodeBadSource, Reason: "not an uploaded document's path"}
	}
	data, err := p.uploads.Get(ctx, in.JobID, sum)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &fetch.Error{Code: fetch.CodeNotFound, Reason: "the uploaded document could not be read: " + err.Error(), Err: err}
	}
	if err := fetch.CheckPDF(data); err != nil {
		return nil, err
	}
	return data, nil
}

// UploadPath is the file_path recorded for an upload: its content hash,
// so the log says which bytes were tagged without holding them.
func UploadPath(sum string) string { return uploadPrefix + sum }

const uploadPrefix = "upload:sha256:"

// UploadSum is the hash in an UploadPath.
func UploadSum(path string) (string, bool) {
	sum, ok := strings.CutPrefix(path, uploadPrefix)
	if !ok || len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return "", false
	}
	return sum, true
}

// extractText reads the text layer and OCRs pages as the job's ocr
// setting says; ocr "off" behaves exactly as the text layer alone.
func extractText(ctx context.Context, data []byte, opts pdftext.Options, cfg events.JobConfig) (*ocr.Result, error) {
	mode, err := ocr.ParseMode(cfg.OCR)
	if err != nil {
		mode = ocr.ModeAuto // refused at start; an unknown stored value reads as the default
	}
	return ocr.Extract(ctx, data, opts, ocr.Options{Mode: mode, Languages: cfg.OCRLanguages})
}
