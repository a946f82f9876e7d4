package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tagstream/tagstream/internal/client"
)

// progressBar draws a job's progress on stderr. On a terminal it redraws
// one line in place; otherwise (logs, CI, tests) it prints a line at every
// tenth of the way and on status changes, so logs stay short.
type progressBar struct {
	w        io.Writer
	tty      bool
	start    time.Time
	base     int // documents already finished when following began
	started  bool
	lastStep int
	lastStat string
	width    int // length of the last drawn line, to blank it on redraw
}

func newProgressBar(w io.Writer) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil {
			tty = st.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progressBar{w: w, tty: tty, start: time.Now(), lastStep: -1}
}

// update draws p unless nothing visible changed.
func (b *progressBar) update(p client.Progress) {
	finished := p.Done + p.Failed
	if !b.started {
		b.started, b.base = true, finished
	}
	line := b.render(p)
	if b.tty {
		pad := max(0, b.width-len(line))
		fmt.Fprintf(b.w, "\r%s%s", line, strings.Repeat(" ", pad))
		b.width = len(line)
		return
	}
	step := 0
	if p.Total > 0 {
		step = finished * 10 / p.Total
	}
	if step != b.lastStep || p.Status != b.lastStat {
		fmt.Fprintln(b.w, line)
		b.lastStep, b.lastStat = step, p.Status
	}
}

// finish draws the final state and ends the line. Off a terminal the
// final state has usually been printed already by update.
func (b *progressBar) finish(p client.Progress) {
	b.update(p)
	if b.tty {
		fmt.Fprintln(b.w)
	}
}

func (b *progressBar) render(p client.Progress) string {
	finished := p.Done + p.Failed
	frac := 1.0
	if p.Total > 0 {
		frac = float64(finished) / float64(p.Total)
	}
	const cells = 30
	full := int(frac * cells)
	bar := strings.Repeat("#", full) + strings.Repeat("-", cells-full)
	// "39 tagged, 6 failed, 0 left": "39/45 done, 6 failed" at 100% read
	// as if 6 were still outstanding.
	line := fmt.Sprintf("[%s] %3.0f%%  %d tagged, %d failed", bar, frac*100, p.Done, p.Failed)
	if p.Cancelled > 0 {
		line += fmt.Sprintf(", %d cancelled", p.Cancelled)
	}
	line += fmt.Sprintf(", %d left", p.Left())
	// Rate and ETA count only what finished while we watched, so joining a
	// half-done job does not promise an impossible speed.
	elapsed := time.Since(b.start).Seconds()
	if n := finished - b.base; n > 0 && elapsed > 0 {
		rate := float64(n) / elapsed
		line += fmt.Sprintf("  %.1f docs/s", rate)
		eta := time.Duration(float64(p.Total-finished) / rate * float64(time.Second)).Round(time.Second)
		if eta > 0 && p.Status != "paused" {
			line += "  ETA " + eta.String()
		}
	}
	if p.Status != "" && p.Status != "processing" {
		line += "  (" + p.Status + ")"
	}
	return line
}
