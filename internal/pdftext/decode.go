package pdftext

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"io"

	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"github.com/tagstream/tagstream/internal/capread"
)

// ctxReader stops a filter stage at the deadline: inflating 32 MiB takes
// a while on a loaded machine, so not only the interpreter checks it.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func capped(caps []*capread.Reader) bool {
	for _, c := range caps {
		if c.Hit() {
			return true
		}
	}
	return false
}

// imageFilter reports filters whose output is pixels, never text.
func imageFilter(name string) bool {
	switch name {
	case filter.DCT, filter.JPX, filter.JBIG2, filter.CCITTFax:
		return true
	}
	return false
}

// decodeBounded applies sd's filters to its raw bytes, streaming from one
// filter to the next, each stage capped at limit bytes: nested Flate
// costs at most limit bytes of output per stage, never the product.
// budget names the budget that limit comes from. A damaged stream yields
// what decoded before the damage; only budget and ctx errors are returned.
func decodeBounded(ctx context.Context, sd *types.StreamDict, limit int64, budget string) ([]byte, error) {
	if len(sd.FilterPipeline) > maxFilters {
		return nil, overBudget(BudgetFilters, maxFilters)
	}
	var r io.Reader = bytes.NewReader(sd.Raw)
	// Each stage passes at most limit bytes and then fails with a budget
	// error, so no stage of a filter chain can run away: truncating
	// silently would hide a bomb behind plausible partial text.
	var caps []*capread.Reader
	newCap := func(r io.Reader) io.Reader {
		c := capread.New(ctxReader{ctx, r}, limit, overBudget(budget, limit))
		caps = append(caps, c)
		return c
	}
	for _, f := range sd.FilterPipeline {
		if imageFilter(f.Name) {
			return nil, nil
		}
		parms := filterParms(f.DecodeParms)
		if f.Name == filter.Flate && parms["Predictor"] <= 1 {
			zr, err := zlib.NewReader(r)
			if err != nil {
				return nil, nil
			}
			r = newCap(zr)
			continue
		}
		// The other filters (and Flate with a predictor) buffer their
		// whole output; pdfcpu caps that at limit as well.
		fi, err := filter.NewFilter(f.Name, parms, limit)
		if err != nil {
			return nil, nil
		}
		out, err := fi.Decode(r)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			if errors.Is(err, filter.ErrDecodeLimitExceeded) || capped(caps) {
				return nil, overBudget(budget, limit)
			}
			return nil, nil
		}
		r = newCap(out)
	}
	if len(sd.FilterPipeline) == 0 {
		r = newCap(r)
	}
	data, err := io.ReadAll(r)
	if errors.Is(err, ErrBudget) || capped(caps) {
		return nil, overBudget(budget, limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return data, nil
}

// filterParms converts DecodeParms as pdfcpu's filters expect them.
func filterParms(d types.Dict) map[string]int {
	m := map[string]int{}
	for k, v := range d {
		switch v := v.(type) {
		case types.Integer:
			m[k] = v.Value()
		case types.Boolean:
			if v.Value() {
				m[k] = 1
			} else {
				m[k] = 0
			}
		}
	}
	return m
}
