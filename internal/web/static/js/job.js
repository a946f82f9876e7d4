// One job, live. A Watcher follows the job over the WebSocket when the
// server offers it and falls back to polling status and results every two
// seconds when it does not (or when the socket drops), so the view works
// against any server version. The view owns the progress bar, the counts,
// the per-document table and the pause/resume/cancel/retry buttons.

import { get, post, missingEndpoint } from "./api.js";
import { accessToken } from "./auth.js";
import { $, $$, h, clear, fillTable, badge, chips, pct, announce, showError, showInfo, hideAlert, busy } from "./dom.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const POLL_MS = 2000;

export class Watcher {
  // handlers: state(obj), rows(list, replace), row(obj), mode(string), done().
  constructor(jobID, handlers) {
    this.id = jobID;
    this.on = handlers;
    this.stopped = false;
    this.terminal = false;
    this.ws = null;
    this.pollTimer = null;
    this.lastSig = "";
    this.gen = 0;
  }

  start() {
    if (typeof WebSocket === "undefined") return this.poll();
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    if (this.ws) { try { this.ws.close(1000); } catch { /* closing anyway */ } }
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${proto}//${location.host}/api/batch/ws/${encodeURIComponent(this.id)}?token=${encodeURIComponent(accessToken())}`;
    let opened = false;
    let ws;
    try { ws = new WebSocket(url); } catch { return this.poll(); }
    this.ws = ws;
    ws.onopen = () => { opened = true; this.on.mode("live"); };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      this.handle(msg);
    };
    ws.onclose = (ev) => {
      this.ws = null;
      if (this.stopped || this.terminal) return;
      if (ev.code === 1008) this.on.mode("denied");
      // Not there yet, refused or dropped: polling shows the same data
      // (and, for a refusal, the server's own reason).
      this.poll(opened ? 0 : POLL_MS / 4);
    };
  }

  handle(msg) {
    switch (msg.type) {
      case "catchup":
        if (msg.state) this.on.state(msg.state);
        if (Array.isArray(msg.results)) this.on.rows(msg.results, true);
        if (msg.state && TERMINAL.has(msg.state.status)) this.finish();
        break;
      case "document": {
        const counts = pickCounts(msg);
        this.on.row(msg, Object.keys(counts).length === 0);
        if (msg.progress !== undefined || Object.keys(counts).length) this.on.state({ ...(msg.progress !== undefined ? { progress: msg.progress } : {}), ...counts });
        break;
      }
      case "retried":
        this.on.state({ status: msg.status || "pending", ...pickCounts(msg) });
        break;
      case "paused":
      case "resumed":
        this.on.state({ status: msg.type === "paused" ? "paused" : "processing", ...pickCounts(msg), ...(msg.state || {}) });
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
    this.terminal = true;
    try { this.on.state(await get(`/api/batch/jobs/${encodeURIComponent(this.id)}/status`)); } catch { /* keep what we have */ }
    this.on.done();
  }

  poll(delay = 0) {
    if (this.stopped) return;
    this.on.mode("polling");
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
      // Results only change when the counts or the status do.
      const sig = [st.status, st.processed_count, st.failed_count, st.cancelled_count, st.updated_at].join("|");
      if (sig !== this.lastSig) {
        this.on.rows(await allResults(this.id), true);
        this.lastSig = sig;
      }
      if (TERMINAL.has(st.status)) { this.terminal = true; this.on.done(); return; }
      this.on.mode("polling");
    } catch (err) {
      if (err.status === 404 || err.status === 401) { showError(err); return; }
      this.on.mode("retrying");
    }
    if (gen === this.gen) this.pollTimer = setTimeout(() => this.pollOnce(gen), POLL_MS);
  }
}

function pickCounts(m) {
  const o = {};
  for (const k of ["processed_count", "failed_count", "cancelled_count", "total_documents"]) if (typeof m[k] === "number") o[k] = m[k];
  return o;
}

// allResults reads every page of a job's results (at most 50,000 rows).
export async function allResults(id) {
  const out = [];
  let cursor = "";
  for (let i = 0; i < 50; i++) {
    const page = await get(`/api/batch/jobs/${encodeURIComponent(id)}/results`, { query: { limit: 1000, cursor } });
    out.push(...(page.results || []));
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return out;
}

// JobView renders the live part of the job page.
export class JobView {
  constructor() {
    this.watcher = null;
    this.state = {};
    this.rows = new Map();
    this.body = null;
    for (const b of $$("[data-action]")) b.addEventListener("click", (e) => this.act(e.currentTarget));
  }

  open(id) {
    this.close();
    this.id = id;
    this.state = { job_id: id };
    this.rows = new Map();
    this.lastAnnounce = -1;
    $("#job-id").textContent = id;
    this.body = fillTable($("#live-docs"), ["Row", "Title", "Status", "Tags or error"], []);
    this.render();
    this.watcher = new Watcher(id, {
      state: (s) => { Object.assign(this.state, s); this.render(); },
      rows: (list, replace) => this.setRows(list, replace),
      row: (r, recount) => { this.setRow(r); if (recount) this.recount(true); },
      mode: (m) => this.mode(m),
      done: () => { this.mode("done"); this.render(); },
    });
    this.watcher.start();
  }

  close() {
    if (this.watcher) this.watcher.stop();
    this.watcher = null;
  }

  mode(m) {
    const text = { live: "Live updates (WebSocket)", polling: "Updating every 2 s", retrying: "Connection lost, retrying…", denied: "Live updates refused; polling", done: "Finished" }[m] || "";
    $("#job-conn").textContent = text;
    $("#job-conn").dataset.mode = m;
  }

  setRows(list, replace) {
    if (replace && list.length < this.rows.size) { this.rows.clear(); clear(this.body); }
    for (const r of list) this.setRow(r);
    this.recount();
  }

  setRow(r) {
    const id = r.row_id ?? r.row;
    if (id === undefined) return;
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
    const status = s.status || "pending";
    const p = pct(s.progress);
    const st = $("#job-status");
    st.textContent = status;
    st.className = `badge s-${status}`;
    $("#progress-bar").style.width = `${p}%`;
    $("#progress").setAttribute("aria-valuenow", String(p));
    $("#progress").setAttribute("aria-valuetext", `${p}% done, ${status}`);
    $("#progress-pct").textContent = `${p}%`;
    $("#c-total").textContent = s.total_documents ?? this.rows.size;
    $("#c-ok").textContent = s.processed_count ?? 0;
    $("#c-failed").textContent = s.failed_count ?? 0;
    $("#c-cancelled").textContent = s.cancelled_count ?? 0;
    $("#job-reason").hidden = !s.reason;
    $("#job-reason").textContent = s.reason ? `Reason: ${s.reason}` : "";
    const terminal = TERMINAL.has(status);
    const can = { pause: status === "pending" || status === "processing", resume: status === "paused", cancel: !terminal, retry: terminal };
    for (const b of $$("[data-action]")) if (!b.dataset.busy) b.disabled = !can[b.dataset.action];
    // Announce in 10% steps and on status changes, not on every document.
    const step = Math.floor(p / 10);
    if (step !== this.lastAnnounce || status !== this.lastStatus) {
      this.lastAnnounce = step;
      this.lastStatus = status;
      announce(`Job ${status}: ${p}% done, ${s.processed_count ?? 0} tagged, ${s.failed_count ?? 0} failed.`);
    }
  }

  async act(btn) {
    const action = btn.dataset.action;
    const reason = $("#action-reason").value.trim();
    btn.dataset.busy = "1";
    hideAlert();
    await busy(btn, async () => {
      try {
        const out = await post(`/api/batch/jobs/${encodeURIComponent(this.id)}/${action}`, reason ? { reason } : {});
        $("#action-reason").value = "";
        showInfo(out.message || `${action} accepted`);
        if (out.status) this.state.status = out.status;
        if (action === "retry") { this.open(this.id); return; }
        this.render();
        if (this.watcher && !this.watcher.ws) this.watcher.poll();
      } catch (err) {
        if (missingEndpoint(err)) showError(`This server cannot ${action} jobs yet.`);
        else showError(err);
      }
    });
    delete btn.dataset.busy;
    this.render();
  }
}
