// The job's model use and ETA. Usage rides on every live message (and on
// every status read), so it grows as documents finish without a request
// of its own. The ETA is the server's: documents finished per minute over
// its recent window, re-read from /eta when the counts move, one request
// at a time and at most one a second, so a fast job does not flood it.
// "-" until the server has a rate; hidden when paused or finished.

import { get } from "./api.js";
import { $ } from "./dom.js";

const ETA_GAP_MS = 1000;

export class UsagePanel {
  constructor() { this.reset(""); }

  reset(id) {
    this.id = id;
    this.gen = (this.gen || 0) + 1;
    this.sig = "";
    this.busy = false;
    this.again = false;
    this.eta = null;
    clearTimeout(this.timer);
    for (const k of ["u-calls", "u-tokens", "u-cost", "u-cached"]) $(`#${k}`).textContent = "–";
    $("#u-eta").textContent = "-";
    $("#eta-box").hidden = true;
  }

  stop() { this.gen++; clearTimeout(this.timer); }

  // update renders the state's usage and asks for a new ETA when the
  // job's counts or status changed.
  update(s) {
    const u = s.usage;
    if (u) {
      $("#u-calls").textContent = String(u.model_calls ?? 0);
      $("#u-tokens").textContent = `${u.prompt_tokens ?? 0} prompt · ${u.completion_tokens ?? 0} completion`;
      $("#u-cost").textContent = fmtUSD(u.cost_usd) + (u.unpriced > 0 ? ` (${u.unpriced} document${u.unpriced === 1 ? "" : "s"} unpriced)` : "");
      $("#u-cached").textContent = String(u.cached ?? 0);
    }
    const active = s.status === "processing" || s.status === "pending";
    $("#eta-box").hidden = !active;
    // Leaving work forgets the counts: a resume asks for the ETA again.
    if (!active) { this.sig = ""; return; }
    const sig = [s.status, s.processed_count, s.failed_count, s.cancelled_count].join("|");
    if (sig === this.sig) return;
    this.sig = sig;
    this.refresh();
  }

  async refresh() {
    if (this.busy) { this.again = true; return; }
    this.busy = true;
    this.again = false;
    const gen = this.gen;
    try {
      const e = await get(`/api/batch/jobs/${encodeURIComponent(this.id)}/eta`);
      if (gen !== this.gen) return;
      $("#u-eta").textContent = fmtETA(e);
      $("#u-eta").title = typeof e.rate_per_minute === "number" ? `${e.rate_per_minute.toFixed(1)} documents a minute over the last ${Math.round((e.window_seconds || 300) / 60)} min` : "Not enough documents finished yet to know the pace";
    } catch { /* an older server: the ETA stays "-" */ }
    if (gen !== this.gen) return;
    this.timer = setTimeout(() => { this.busy = false; if (this.again) this.refresh(); }, ETA_GAP_MS);
  }
}

// fmtUSD shows small costs with enough digits to be seen.
export function fmtUSD(x) {
  const n = Number(x) || 0;
  return `$${n.toFixed(n !== 0 && Math.abs(n) < 1 ? 4 : 2)}`;
}

export function fmtETA(e) {
  if (!e || typeof e.eta_seconds !== "number") return "-";
  const s = Math.max(0, Math.round(e.eta_seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
