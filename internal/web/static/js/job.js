// One job, live. A Watcher follows the job over the WebSocket. When the
// socket drops it polls status and results to bridge the gap and
// reconnects with a growing delay (1 s, 2 s, 4 s … at most 30 s), asking
// for what changed after the last event it saw (?since=SEQ); once the
// socket is back, polling stops. On a server without the WebSocket it
// keeps polling but still probes the socket at that capped delay, so
// polling is always a bridge, never a place it stays. A 404 ends it in a
// "not found" state. The view owns the progress bar, the counts, the
// per-document table and the pause/resume/cancel/retry buttons.
//
// Big jobs: the page holds one page of rows (PAGE), never the whole job.
// The socket is asked for a catchup without rows (?results=none), the
// shown page is read over REST on its cursor, live messages update the
// rows of that page only (the counts ride on every message), and a poll
// re-reads that one page when the counts moved. A 10,000-document job
// thus costs the DOM and the network of 100 rows.

import { get, post, missingEndpoint } from "./api.js";
import { accessToken, session } from "./auth.js";
import { $, $$, h, clear, fillTable, badge, chips, pct, fmtTime, announce, showError, clearError, showInfo, hideAlert, busy } from "./dom.js";
import { UsagePanel } from "./usage.js";
import { WebhookLog } from "./webhooks.js";
import { GovernancePanel } from "./governance.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const POLL_MS = 2000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
export const PAGE = 100;

export class Watcher {
  // handlers: state(obj), rows(list, replace), row(obj), reload(),
  // mode(string), done(), missing(err).
  constructor(jobID, handlers) {
    this.id = jobID;
    this.on = handlers;
    this.stopped = false;
    this.terminal = false;
    this.ws = null;
    this.pollTimer = null;
    this.wsTimer = null;
    this.lastSig = "";
    this.gen = 0;
    this.seq = 0; // the last event seen: where a reconnect resumes
    this.everOpened = false;
    this.failures = 0;
    this.connects = 0;
  }

  start() {
    if (typeof WebSocket === "undefined") return this.poll();
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    clearTimeout(this.wsTimer);
    this.gen++;
    if (this.ws) { try { this.ws.close(1000); } catch { /* closing anyway */ } }
  }

  connect() {
    if (this.stopped || this.terminal) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    let url = `${proto}//${location.host}/api/batch/ws/${encodeURIComponent(this.id)}?results=none&token=${encodeURIComponent(accessToken())}`;
    if (this.seq > 0) url += `&since=${this.seq}`;
    let ws;
    try { ws = new WebSocket(url); } catch { return this.dropped(); }
    this.connects++;
    this.ws = ws;
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      this.handle(msg);
    };
    ws.onclose = () => {
      if (this.ws === ws) this.ws = null;
      if (this.stopped || this.terminal) return;
      this.dropped();
    };
  }

  // dropped bridges a lost (or refused) socket: poll now, reconnect later.
  // A refusal (1008: unknown job, expired token) is explained by the poll:
  // a 404 ends the watch, a refreshed token lets the reconnect succeed.
  dropped() {
    const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.failures);
    this.failures++;
    this.on.mode(this.everOpened ? "reconnecting" : "polling");
    this.poll(0);
    clearTimeout(this.wsTimer);
    this.wsTimer = setTimeout(() => this.connect(), wait);
  }

  handle(msg) {
    if (typeof msg.seq === "number" && msg.seq > this.seq) this.seq = msg.seq;
    switch (msg.type) {
      case "catchup":
        // The socket is back (an accepted socket can still be refused
        // with 1008, so "open" is the catchup, not onopen): stop the
        // bridge polling.
        this.everOpened = true;
        this.failures = 0;
        this.gen++;
        clearTimeout(this.pollTimer);
        this.on.mode("live");
        if (msg.state) this.on.state(msg.state);
        // A resumed catchup carries only the rows changed since; a server
        // that honours results=none sends none: read the shown page.
        if (Array.isArray(msg.results)) this.on.rows(msg.results, !msg.since);
        else this.on.reload();
        if (msg.state && TERMINAL.has(msg.state.status)) this.finish();
        break;
      case "document": {
        const counts = pickCounts(msg);
        this.on.row(msg, !Object.keys(counts).some((k) => k !== "usage"));
        const st = { ...(msg.progress !== undefined ? { progress: msg.progress } : {}), ...counts };
        // The job's status rides along (job_status); an older server
        // sends none, and a document at work still means processing.
        if (msg.job_status) st.status = msg.job_status;
        else if (msg.event === "DocumentStarted" || msg.event === "DocumentTagged" || msg.event === "DocumentFailed") st.startedWork = true;
        this.on.state(st);
        break;
      }
      case "retried":
        this.on.state({ status: msg.status || "pending", ...pickCounts(msg), reason: msg.reason || "" });
        break;
      case "paused":
      case "resumed":
        this.on.state({ status: msg.type === "paused" ? "paused" : "processing", ...pickCounts(msg), ...(msg.state || {}), reason: msg.reason || "" });
        break;
      case "completed":
      case "cancelled":
      case "failed":
        this.on.state({ status: msg.type, ...pickCounts(msg), ...(msg.state || {}), ...(msg.reason ? { reason: msg.reason } : {}) });
        this.finish();
        break;
      default:
    }
  }

  // finish reads the final status over REST once: terminal messages need
  // not carry every count.
  async finish() {
    if (this.terminal) return;
    this.terminal = true;
    clearTimeout(this.wsTimer);
    try { this.on.state(await get(`/api/batch/jobs/${encodeURIComponent(this.id)}/status`)); } catch { /* keep what we have */ }
    this.on.done();
  }

  // poll polls until the socket is back (or the job ends); a button
  // press calls it for an immediate read while the socket is down.
  poll(delay = 0) {
    if (this.stopped || this.terminal) return;
    clearTimeout(this.pollTimer);
    // A generation number keeps an immediate poll (after a button press)
    // from running a second loop next to one that is mid-request.
    const gen = ++this.gen;
    this.pollTimer = setTimeout(() => this.pollOnce(gen), delay);
  }

  async pollOnce(gen) {
    if (this.stopped || gen !== this.gen) return;
    try {
      const st = await get(`/api/batch/jobs/${encodeURIComponent(this.id)}/status`);
      if (gen !== this.gen) return;
      this.on.state(st);
      // Results only change when the counts or the status do; then only
      // the shown page is read again, never every row of the job.
      const sig = [st.status, st.processed_count, st.failed_count, st.cancelled_count, st.updated_at].join("|");
      if (sig !== this.lastSig) {
        await this.on.reload();
        if (gen !== this.gen) return;
        this.lastSig = sig;
      }
      if (TERMINAL.has(st.status)) { this.stop(); this.terminal = true; this.on.done(); return; }
      this.on.mode(this.everOpened ? "reconnecting" : "polling");
    } catch (err) {
      if (gen !== this.gen) return;
      if (err.status === 404 && !missingEndpoint(err)) { this.stop(); this.on.missing(err); return; }
      if (err.status === 401 || err.status === 403) { this.stop(); showError(err); return; }
      this.on.mode("retrying");
    }
    if (gen === this.gen) this.pollTimer = setTimeout(() => this.pollOnce(gen), POLL_MS);
  }
}

function pickCounts(m) {
  const o = {};
  for (const k of ["processed_count", "failed_count", "cancelled_count", "total_documents"]) if (typeof m[k] === "number") o[k] = m[k];
  if (m.usage && typeof m.usage === "object") o.usage = m.usage;
  return o;
}

// JobView renders the live part of the job page.
export class JobView {
  constructor() {
    this.watcher = null;
    this.state = {};
    this.rows = new Map();
    this.body = null;
    this.page = 0;
    this.pageGen = 0;
    this.touched = new Set();
    this.usage = new UsagePanel();
    this.hooks = new WebhookLog();
    // An erasure blanks the job's rows: reopen it to read them again.
    this.gov = new GovernancePanel(() => this.open(this.id));
    $("#docs-first").addEventListener("click", () => this.goPage(0));
    $("#docs-prev").addEventListener("click", () => this.goPage(this.page - 1));
    $("#docs-next").addEventListener("click", () => this.goPage(this.page + 1));
    $("#docs-last").addEventListener("click", () => this.goPage(this.lastPage()));
    for (const b of $$("[data-action]")) b.addEventListener("click", (e) => this.act(e.currentTarget));
    // Cancel asks first, in place: it cannot be undone.
    $("#cancel-yes").addEventListener("click", () => { this.confirming(false); this.act($("[data-action=cancel]"), true); });
    $("#cancel-no").addEventListener("click", () => { this.confirming(false); $("[data-action=cancel]").focus(); });
  }

  confirming(on) {
    $("#cancel-confirm").hidden = !on;
    $("[data-action=cancel]").setAttribute("aria-expanded", String(on));
    if (on) { $("#cancel-yes").focus(); $("#cancel-confirm").scrollIntoView({ block: "center" }); }
  }

  // missing shows the job as not found: no badge, no controls, no tabs.
  missing(err) {
    this.found = false;
    $("#job-body").hidden = true;
    $("#job-missing").hidden = false;
    $("#job-missing-text").textContent = (err && err.detail) || "It does not exist, or it is not yours to see.";
    $("#job-conn").textContent = "";
    announce(`Job ${this.id} not found.`);
  }

  open(id) {
    this.close();
    this.id = id;
    this.state = { job_id: id };
    this.rows = new Map();
    this.page = 0;
    this.pageGen++;
    this.lastAnnounce = -1;
    $("#job-id").textContent = id;
    this.usage.reset(id);
    this.hooks.reset(id);
    this.gov.reset(id);
    this.found = true;
    this.metaSig = "";
    $("#job-body").hidden = false;
    $("#job-missing").hidden = true;
    this.confirming(false);
    clearError($("#job-actions"));
    $("#retry-cancelled").checked = false;
    this.body = fillTable($("#live-docs"), ["Row", "Title", "Status", "Tags or error"], []);
    this.render();
    this.watcher = new Watcher(id, {
      state: (s) => {
        const { startedWork, ...rest } = s;
        if (startedWork && (!this.state.status || this.state.status === "pending")) rest.status = "processing";
        Object.assign(this.state, rest);
        this.render();
      },
      missing: (err) => this.missing(err),
      rows: (list, replace) => this.setRows(list, replace),
      reload: () => this.loadPage(),
      row: (r, recount) => { this.setRow(r); if (recount) this.recount(true); },
      mode: (m) => this.mode(m),
      done: () => { this.mode("done"); this.render(); },
    });
    this.watcher.start();
  }

  close() {
    if (this.watcher) this.watcher.stop();
    this.watcher = null;
    this.usage.stop();
    this.hooks.stop();
  }

  mode(m) {
    const text = { live: "Live updates (WebSocket)", polling: "Updating every 2 s", reconnecting: "Connection lost; updating every 2 s while reconnecting…", retrying: "Connection lost, retrying…", done: "Finished" }[m] || "";
    $("#job-conn").textContent = text;
    $("#job-conn").dataset.mode = m;
  }

  setRows(list, replace) {
    const mine = list.filter((r) => this.inPage(r.row_id ?? r.row));
    if (replace && mine.length < this.rows.size) { this.rows.clear(); clear(this.body); }
    for (const r of mine) this.setRow(r);
    this.recount();
    this.renderPager();
  }

  // The shown page covers rows [page*PAGE, (page+1)*PAGE): results are
  // paged by row number, so the page is also the REST cursor.
  inPage(id) { return id !== undefined && Number(id) >= this.page * PAGE && Number(id) < (this.page + 1) * PAGE; }

  lastPage() { return Math.max(0, Math.ceil((this.state.total_documents || 0) / PAGE) - 1); }

  // lastSeq is the newest event known: the socket's last one, or (while
  // polling) the job's last control event, such as its cancel.
  lastSeq() { return Math.max(this.watcher ? this.watcher.seq : 0, this.state.control_seq || 0); }

  goPage(n) {
    n = Math.max(0, Math.min(this.lastPage(), n));
    if (n === this.page && this.rows.size) return;
    this.page = n;
    this.rows.clear();
    clear(this.body);
    this.renderPager();
    return this.loadPage();
  }

  // loadPage reads the shown page over REST. A row a live message changed
  // while the request was out keeps the live (newer) state.
  async loadPage() {
    const gen = ++this.pageGen;
    const page = this.page;
    this.touched = new Set();
    try {
      const out = await get(`/api/batch/jobs/${encodeURIComponent(this.id)}/results`, { query: { cursor: page * PAGE, limit: PAGE } });
      if (gen !== this.pageGen || page !== this.page) return;
      for (const r of out.results || []) if (!this.touched.has(r.row_id)) this.setRow(r, true);
      this.recount();
      this.renderPager();
    } catch (err) {
      if (err.status === 404 && !missingEndpoint(err)) this.missing(err);
    }
  }

  renderPager() {
    const total = this.state.total_documents || 0;
    const first = this.page * PAGE;
    const last = Math.min(total, first + PAGE);
    $("#docs-pager").hidden = total <= PAGE;
    $("#docs-range").textContent = total ? `Rows ${first + 1}–${last} of ${total} (page ${this.page + 1} of ${this.lastPage() + 1})` : "";
    $("#docs-first").disabled = $("#docs-prev").disabled = this.page === 0;
    $("#docs-last").disabled = $("#docs-next").disabled = this.page >= this.lastPage();
  }

  setRow(r, fromPage = false) {
    const id = r.row_id ?? r.row;
    if (!this.inPage(id)) return;
    if (!fromPage) this.touched.add(id);
    let entry = this.rows.get(id);
    if (!entry) {
      const tds = [h("td", {}, String(id)), h("td"), h("td"), h("td")];
      const tr = h("tr", { "data-row": id }, tds);
      entry = { tr, tds, data: {} };
      this.rows.set(id, entry);
      // Keep rows in row order even when updates arrive out of order.
      const next = Array.from(this.body.children).find((x) => Number(x.dataset.row) > Number(id));
      this.body.insertBefore(tr, next || null);
    }
    Object.assign(entry.data, r);
    const d = entry.data;
    entry.tds[1].textContent = d.title || d.file_path || "";
    clear(entry.tds[2]).append(badge(d.status));
    clear(entry.tds[3]).append(...(d.error ? [h("span", { class: "bad" }, d.error)] : chips(d.tags)));
    entry.tr.dataset.status = d.status || "";
  }

  // recount derives counts from the rows when the server's counts are
  // missing (a WebSocket "document" message need not carry them).
  recount(force = false) {
    if (!force && typeof this.state.processed_count === "number") return this.render();
    // Only a job that fits one page can be counted from its rows.
    if ((this.state.total_documents || 0) > PAGE) return this.render();
    let ok = 0, failed = 0, cancelled = 0;
    for (const { data } of this.rows.values()) {
      if (data.status === "success") ok++;
      else if (data.status === "failed") failed++;
      else if (data.status === "cancelled") cancelled++;
    }
    Object.assign(this.state, { processed_count: ok, failed_count: failed, cancelled_count: cancelled });
    this.render();
  }

  render() {
    const s = this.state;
    // No status until the server has said one: "pending" would be a guess.
    const status = s.status || "";
    const p = pct(s.progress);
    const st = $("#job-status");
    st.textContent = status || "loading…";
    st.className = `badge s-${status || "unknown"}`;
    $("#progress-bar").style.width = `${p}%`;
    $("#progress").setAttribute("aria-valuenow", String(p));
    $("#progress").setAttribute("aria-valuetext", `${p}% done, ${status}`);
    $("#progress-pct").textContent = `${p}%`;
    $("#c-total").textContent = s.total_documents ?? this.rows.size;
    $("#c-ok").textContent = s.processed_count ?? 0;
    $("#c-failed").textContent = s.failed_count ?? 0;
    $("#c-cancelled").textContent = s.cancelled_count ?? 0;
    // The reason belongs to the state it explains: why it is paused,
    // cancelled or failed (a resume clears it).
    const why = s.reason && status !== "processing" && status !== "pending" && status !== "completed" ? s.reason : "";
    $("#job-reason").hidden = !why;
    $("#job-reason").textContent = why ? `${status === "paused" ? "Paused" : "Reason"}: ${why}` : "";
    const terminal = TERMINAL.has(status);
    const can = { pause: status === "pending" || status === "processing", resume: status === "paused", cancel: !!status && !terminal, retry: terminal && !s.erased };
    // Auditors read every job but control only their own: no buttons that
    // would answer 403. (The server decides; this only avoids the offer.)
    const control = this.mayControl(s);
    $("#job-controls").hidden = !control;
    $("#job-readonly").hidden = control || !s.owner_id;
    for (const b of $$("[data-action]")) if (!b.dataset.busy) b.disabled = !control || !can[b.dataset.action];
    $("#retry-cancelled").disabled = !control || !can.retry;
    if (s.total_documents !== this.pagerTotal) { this.pagerTotal = s.total_documents; this.renderPager(); }
    this.renderMeta(s);
    this.usage.update(s);
    this.hooks.update(s);
    this.gov.update(s);
    if (!can.cancel) this.confirming(false);
    // Announce in 10% steps and on status changes, not on every document.
    const step = Math.floor(p / 10);
    if (status && (step !== this.lastAnnounce || status !== this.lastStatus)) {
      this.lastAnnounce = step;
      this.lastStatus = status;
      announce(`Job ${status}: ${p}% done, ${s.processed_count ?? 0} tagged, ${s.failed_count ?? 0} failed.`);
    }
  }

  // mayControl: the server's own answer (can_control, from its one
  // access policy: organisation roles included) when it gives one; else
  // admins control every job, everyone else their own. A server that does
  // not name the owner leaves the buttons on.
  mayControl(s) {
    if (typeof s.can_control === "boolean") return s.can_control;
    const me = (session() || {}).user || {};
    return me.role === "admin" || !s.owner_id || s.owner_id === me.id;
  }

  // renderMeta shows who owns the job, its settings and its times.
  renderMeta(s) {
    $("#job-title").textContent = s.name || "Job";
    const c = s.config || {};
    const started = s.started_at || s.created_at;
    const end = s.finished_at ? new Date(s.finished_at) : null;
    const secs = started && end ? Math.max(0, Math.round((end - new Date(started)) / 1000)) : null;
    const words = c.exclusion_words || [];
    const items = [
      ["owner", "Owner", s.owner_email || s.owner_id],
      ["model", "Model", c.model_name || s.model_name],
      ["pages", "Pages read", c.num_pages ? String(c.num_pages) : ""],
      ["tags", "Tags per document", c.num_tags ? String(c.num_tags) : ""],
      ["ocr", "OCR", s.config ? c.ocr || "auto" : ""],
      ["languages", "OCR languages", s.config ? c.ocr_languages || "server default" : ""],
      ["tag_language", "Tag language", s.config ? c.tag_language || "en" : ""],
      ["cache", "Cache", s.config ? (c.cache === false ? "off" : "on") : ""],
      ["key", "API key", c.key_source || ""],
      ["webhook", "Webhook", c.callback ? "yes" : ""],
      ["exclusions", `Exclusions (${words.length})`, s.config ? words.join(", ") || "none" : ""],
      ["attempt", "Attempt", s.attempt > 1 ? String(s.attempt) : ""],
      ["created", "Created", fmtTime(s.created_at)],
      ["started", "Started", fmtTime(s.started_at)],
      ["finished", "Finished", fmtTime(s.finished_at)],
      ["duration", "Duration", secs === null ? "" : fmtDuration(secs)],
    ].filter(([, , v]) => v);
    const sig = JSON.stringify(items);
    if (sig === this.metaSig) return;
    this.metaSig = sig;
    clear($("#job-meta")).append(...items.map(([key, k, v]) => h("div", { "data-meta": key }, h("dt", {}, k), h("dd", {}, v))));
  }

  async act(btn, confirmed = false) {
    const action = btn.dataset.action;
    const where = $("#job-actions");
    if (action === "cancel" && !confirmed) { this.confirming(true); return; }
    const reason = $("#action-reason").value.trim();
    btn.dataset.busy = "1";
    hideAlert();
    clearError(where);
    await busy(btn, async () => {
      try {
        const body = reason ? { reason } : {};
        if (action === "retry" && $("#retry-cancelled").checked) body.include_cancelled = true;
        const out = await post(`/api/batch/jobs/${encodeURIComponent(this.id)}/${action}`, body);
        $("#action-reason").value = "";
        showInfo(out.message || `${action} accepted`);
        if (out.status) this.state.status = out.status;
        if (action === "retry") { this.open(this.id); return; }
        this.render();
        if (this.watcher && !this.watcher.ws) this.watcher.poll();
      } catch (err) {
        if (missingEndpoint(err)) showError(`This server cannot ${action} jobs yet.`, where);
        else showError(err, where);
      }
    });
    delete btn.dataset.busy;
    this.render();
  }
}

// fmtDuration writes 42 s, 3 min 5 s, 2 h 7 min.
export function fmtDuration(secs) {
  if (secs < 60) return `${secs} s`;
  if (secs < 3600) return `${Math.floor(secs / 60)} min ${secs % 60} s`;
  return `${Math.floor(secs / 3600)} h ${Math.floor((secs % 3600) / 60)} min`;
}
