// The job's webhook delivery log, shown only for a job with a callback.
// Attempts are not on the live socket (they are not job state), so the
// log is read when the job's status changes and then again while a
// delivery is owed: at its next retry, or every few seconds until the
// first attempt of an ended job is recorded. It never shows the URL.

import { get, missingEndpoint } from "./api.js";
import { $, h, clear, fillTable, fmtTime } from "./dom.js";

const OWED_MS = 3000;
const MAX_WAIT_MS = 60000;
const TERMINAL = new Set(["completed", "failed", "cancelled"]);

export class WebhookLog {
  constructor() { this.reset(""); }

  reset(id) {
    this.id = id;
    this.gen = (this.gen || 0) + 1;
    this.status = "";
    clearTimeout(this.timer);
    $("#panel-hooks").hidden = true;
    clear($("#hooks-note"));
    fillTable($("#hooks-table"), ["Time", "Event", "Attempt", "Result", "Next retry"], []);
  }

  stop() { this.gen++; clearTimeout(this.timer); }

  update(s) {
    const has = !!(s.config && s.config.callback);
    $("#panel-hooks").hidden = !has;
    if (!has || s.status === this.status) return;
    this.status = s.status;
    this.load();
  }

  async load() {
    clearTimeout(this.timer);
    const gen = this.gen;
    let out;
    try {
      out = await get(`/api/batch/jobs/${encodeURIComponent(this.id)}/webhooks`);
    } catch (err) {
      if (gen === this.gen && missingEndpoint(err)) $("#hooks-note").textContent = "This server does not keep a delivery log.";
      return;
    }
    if (gen !== this.gen) return;
    const list = out.attempts || [];
    $("#hooks-note").textContent = list.length ? "" : "No delivery yet: one is sent when the job ends, or when the system pauses it.";
    fillTable($("#hooks-table"), ["Time", "Event", "Attempt", "Result", "Next retry"], list.map((a) => h("tr", { "data-attempt": a.attempt, "data-delivered": a.delivered ? "1" : "0" },
      h("td", {}, h("time", { datetime: a.time }, fmtTime(a.time))),
      h("td", {}, a.event),
      h("td", {}, String(a.attempt)),
      h("td", { class: a.delivered ? "ok" : "bad" }, result(a)),
      h("td", {}, a.next_retry ? h("time", { datetime: a.next_retry }, fmtTime(a.next_retry)) : a.given_up ? "given up" : "–"))));
    // Owed: the last attempt set a retry, or an ended job has none yet.
    const last = list[list.length - 1];
    let wait = 0;
    if (last && last.next_retry) wait = Math.min(MAX_WAIT_MS, Math.max(OWED_MS, new Date(last.next_retry) - Date.now() + 500));
    else if (!last && TERMINAL.has(this.status)) wait = OWED_MS;
    if (wait) this.timer = setTimeout(() => this.load(), wait);
  }
}

function result(a) {
  const code = a.status ? `HTTP ${a.status}` : "";
  if (a.delivered) return `delivered${code ? ` (${code})` : ""}`;
  return [code, a.error].filter(Boolean).join(": ") || "failed";
}
