// The list views: active jobs and history, a job's results with CSV
// export, and its audit trail as a timeline. Endpoints that a server does
// not have yet are reported as such and the rest of the view still works.

import { get, request, missingEndpoint } from "./api.js";
import { session } from "./auth.js";
import { readsAll } from "./reads.js";
import { $, h, clear, fillTable, badge, chips, fmtTime, pct, showError, busy } from "./dom.js";

const RECENT = "tagstream.recent";

// remember keeps the ids of jobs started in this tab, so the job list has
// something to show even on a server without the history endpoint.
export function remember(id) {
  const list = recent().filter((x) => x !== id);
  list.unshift(id);
  sessionStorage.setItem(RECENT, JSON.stringify(list.slice(0, 50)));
}

function recent() {
  try { return JSON.parse(sessionStorage.getItem(RECENT)) || []; } catch { return []; }
}

// A job is linked by its name when it has one; the id stays visible
// (small) because that is what the CLI and the API take.
const jobLink = (j) => h("td", { class: "job-cell" }, h("a", { href: `#/jobs/${encodeURIComponent(j.job_id)}` }, j.name || j.job_id),
  j.name ? h("div", { class: "hint" }, h("code", {}, j.job_id)) : null);

// A held or erased job says so next to its status.
const statusCell = (j) => h("td", { class: "status-cell" }, badge(j.status),
  j.legal_hold ? h("span", { class: "badge s-hold" }, "legal hold") : null,
  j.erased ? h("span", { class: "badge s-erased" }, "erased") : null);

function jobRow(j) {
  return [jobLink(j), statusCell(j), `${pct(j.progress)}%`,
    `${(j.processed_count ?? 0)} / ${(j.failed_count ?? 0)} / ${j.total_documents ?? "?"}`, fmtTime(j.started_at || j.created_at),
    h("td", { class: "owner" }, j.owner_email || j.owner_id || "")];
}
const JOB_HEADERS = ["Job", "Status", "Progress", "Tagged / failed / total", "Started", "Owner"];

let historyCursor = null;
let historyGen = 0;

// The "all" switch is offered by reads.js's rule. Its default is set once
// per user: on for global auditors and admins, who are there to see
// everyone's jobs; off for an organisation's operator, auditor or admin,
// who also run jobs of their own and see their organisations' a tick away
// (as the server lists only one's own jobs unless all=true).
let allDefaultFor = null; // the user the switch's default was set for

const allOn = () => !$("#all-wrap").hidden && $("#history-all").checked;

export async function showJobs() {
  const reads = await readsAll();
  const user = (session() || {}).user || {};
  const who = user.id || user.email || "";
  if (who !== allDefaultFor) { $("#history-all").checked = reads === "global"; allDefaultFor = who; }
  $("#all-wrap").hidden = !reads;
  $('label[for="history-all"]').textContent = reads === "orgs" ? "Jobs of my organisations too" : "All users' jobs";
  const all = allOn() ? "true" : "";
  try {
    const out = await get("/api/batch/active", { query: { all } });
    const jobs = out.jobs || [];
    fillTable($("#active-jobs"), JOB_HEADERS, jobs.length ? jobs.map(jobRow) : [[h("td", { colspan: JOB_HEADERS.length, class: "hint" }, "No active jobs.")]]);
  } catch (err) { showError(err); }
  await loadHistory(true);
}

async function loadHistory(reset) {
  const note = $("#history-note");
  if (reset) historyCursor = null;
  try {
    // Filters change fast (typing, toggles): only the newest answer counts.
    const gen = ++historyGen;
    const out = await get("/api/batch/jobs", { query: { status: $("#history-status").value, limit: 25, cursor: historyCursor || "",
      q: $("#history-q").value.trim(), failed: $("#history-failed").checked ? "true" : "", sort: $("#history-sort").value,
      all: allOn() ? "true" : "" } });
    if (gen !== historyGen) return;
    const jobs = out.jobs || [];
    note.hidden = true;
    if (reset) fillTable($("#history-jobs"), JOB_HEADERS, jobs.length ? [] : [[h("td", { colspan: JOB_HEADERS.length, class: "hint" }, "No jobs match.")]]);
    const body = $("#history-jobs tbody");
    for (const j of jobs) body.append(h("tr", { "data-job": j.job_id }, jobRow(j).map((c) => (c instanceof Node && c.tagName === "TD" ? c : h("td", {}, c)))));
    historyCursor = out.next_cursor || null;
    $("#history-more").hidden = !historyCursor;
  } catch (err) {
    $("#history-more").hidden = true;
    if (!missingEndpoint(err)) { showError(err); return; }
    // No history endpoint yet: show this tab's own jobs, read one by one.
    note.hidden = false;
    note.textContent = "This server has no job history yet; showing the jobs started in this browser tab.";
    const ids = recent();
    const rows = [];
    for (const id of ids.slice(0, 20)) {
      try { rows.push(jobRow(await get(`/api/batch/jobs/${encodeURIComponent(id)}/status`))); } catch { /* gone or not ours */ }
    }
    const want = $("#history-status").value;
    fillTable($("#history-jobs"), JOB_HEADERS, rows.filter((r) => !want || r[1].textContent === want));
  }
}

let searchTimer;

export function initJobs() {
  $("#history-refresh").addEventListener("click", (e) => busy(e.currentTarget, () => loadHistory(true)));
  $("#history-status").addEventListener("change", () => loadHistory(true));
  $("#history-sort").addEventListener("change", () => loadHistory(true));
  $("#history-failed").addEventListener("change", () => loadHistory(true));
  $("#history-all").addEventListener("change", () => showJobs());
  // Search as the user types, once they pause.
  $("#history-q").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => loadHistory(true), 250); });
  $("#history-form").addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(searchTimer); loadHistory(true); });
  $("#history-more").addEventListener("click", (e) => busy(e.currentTarget, () => loadHistory(false)));
}

// Results tab.

// The results tab shows one page at a time (replacing the last), so
// paging through a 10,000-row job never grows the page.
let resultsCursor = null;
let resultsJob = "";
let resultsStack = [];

const RESULT_HEADERS = ["Row", "Title", "File", "Status", "Tags", "Error", "Attempts", "Model", "Tokens", "ms"];

function resultRow(r) {
  const md = r.metadata || {};
  return [String(r.row_id), r.title || "", h("td", { class: "path" }, r.file_path || ""), badge(r.status), h("td", {}, chips(r.tags)),
    r.error || "", String(r.attempts ?? ""), md.model || "", md.total_tokens ? String(md.total_tokens) : "", md.duration_ms ? String(md.duration_ms) : ""];
}

// loadResults shows a page: reset starts over, dir 1 is the next page,
// -1 the previous one (the cursors of shown pages are kept).
export async function loadResults(id, reset, dir = 1) {
  if (reset) { resultsCursor = null; resultsJob = id; resultsStack = []; clear($("#export-out")); }
  let from = "";
  if (dir < 0) { resultsStack.pop(); from = resultsStack.length ? resultsStack[resultsStack.length - 1] : ""; }
  else if (!reset) { from = resultsCursor || ""; }
  try {
    const out = await get(`/api/batch/jobs/${encodeURIComponent(id)}/results`, { query: { limit: 100, cursor: from } });
    if (dir > 0 && !reset) resultsStack.push(from);
    if (reset) resultsStack = [""];
    const rows = (out.results || []).map(resultRow);
    fillTable($("#results-table"), RESULT_HEADERS, rows.length ? [] : [[h("td", { colspan: RESULT_HEADERS.length, class: "hint" }, "No results yet.")]]);
    const body = $("#results-table tbody");
    for (const r of rows) body.append(h("tr", {}, r.map((c) => (c instanceof Node && c.tagName === "TD" ? c : h("td", {}, c)))));
    resultsCursor = out.next_cursor || null;
    $("#results-more").disabled = !resultsCursor;
    $("#results-prev").disabled = resultsStack.length <= 1;
    $("#results-pager").hidden = !resultsCursor && resultsStack.length <= 1;
    const n = (out.results || []).length;
    const first = n ? out.results[0].row_id + 1 : 0;
    $("#results-range").textContent = n ? `Rows ${first}–${out.results[n - 1].row_id + 1}` : "";
  } catch (err) { showError(err); }
}

// exportAs fetches the CSV or .xlsx export with the bearer token (a plain
// link could not send it) and hands the browser a blob to save.
async function exportAs(format) {
  const id = resultsJob;
  const out = clear($("#export-out"));
  try {
    const res = await request("GET", `/api/batch/jobs/${encodeURIComponent(id)}/results`, { query: { format }, raw: true });
    const blob = await res.blob();
    const name = `${id}-results.${format}`;
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: name, id: "export-link" }, `Download ${name} (${blob.size} bytes)`);
    out.append(a);
    a.click();
  } catch (err) { showError(err); }
}

export function initResults() {
  $("#results-more").addEventListener("click", () => loadResults(resultsJob, false, 1));
  $("#results-prev").addEventListener("click", () => loadResults(resultsJob, false, -1));
  $("#export-csv").addEventListener("click", (e) => busy(e.currentTarget, () => exportAs("csv")));
  $("#export-xlsx").addEventListener("click", (e) => busy(e.currentTarget, () => exportAs("xlsx")));
}

// Audit trail.

// Without per-document events the server filters to the job's own
// transitions (scope=job): a handful even for 10,000 documents, so the
// cancel is on the first page. With them, events come 200 at a time and
// "Jump to latest" starts from the last event the live view saw.
let auditCursor = null;
let auditJob = "";
let auditLatest = () => 0;
const AUDIT_PAGE = 200;

export function setAuditLatest(fn) { auditLatest = fn; }

const isDocEvent = (t) => t.startsWith("Document");

function summary(type, d) {
  d = d || {};
  const cfg = d.config || {};
  switch (type) {
    case "JobStarted": return `${d.total_documents} documents; model ${cfg.model_name}, ${cfg.num_pages} pages, ${cfg.num_tags} tags` + (cfg.exclusion_words && cfg.exclusion_words.length ? `, ${cfg.exclusion_words.length} exclusion words` : "");
    case "JobPaused": case "JobResumed": case "JobCancelled": return d.reason ? `Reason: ${d.reason}` : "";
    case "JobCompleted": return `${d.processed} tagged, ${d.failed} failed, ${d.cancelled} cancelled`;
    case "JobFailed": return `${d.reason || ""}${d.code ? ` (${d.code})` : ""}`;
    case "JobRetried": return `Attempt ${d.attempt}: ${(d.rows || []).length} documents` + (cfg.model_name ? `, model ${cfg.model_name}` : "") + (d.reason ? `. Reason: ${d.reason}` : "");
    case "DocumentsSubmitted": return `${(d.documents || []).length} documents (chunk ${d.chunk})`;
    case "DocumentStarted": return `Row ${d.row}, attempt ${d.attempt}`;
    case "DocumentTagged": return `Row ${d.row}: ${(d.tags || []).join(", ")}`;
    case "DocumentFailed": return `Row ${d.row}: ${d.error || ""}`;
    default: return "";
  }
}

function actorText(a) {
  if (!a) return "";
  return `${a.kind || "?"} ${a.email || a.id || ""}`.trim();
}

export async function loadAudit(id, reset, from = "") {
  const withDocs = $("#audit-docs").checked;
  // Pages of document events replace each other; job-level ones add up.
  if (reset || withDocs) { clear($("#timeline")); }
  if (reset) { auditCursor = null; auditJob = id; }
  if (from) auditCursor = from;
  $("#audit-latest").hidden = !withDocs;
  $("#audit-note").textContent = withDocs ? `Every event, ${AUDIT_PAGE} at a time.` : "Job-level events: start, pause, resume, cancel, retry and the end.";
  try {
    const query = withDocs ? { limit: AUDIT_PAGE, cursor: auditCursor || "" } : { scope: "job", limit: 1000, cursor: auditCursor || "" };
    let out;
    try {
      out = await get(`/api/batch/jobs/${encodeURIComponent(id)}/events`, { query });
    } catch (err) {
      // A server without scope=job: read every event and filter here.
      if (withDocs || err.status !== 400) throw err;
      out = await get(`/api/batch/jobs/${encodeURIComponent(id)}/events`, { query: { limit: 1000, cursor: auditCursor || "" } });
    }
    const list = $("#timeline");
    for (const e of out.events || []) {
      if (!withDocs && isDocEvent(e.type)) continue;
      const bad = /Failed|Cancelled/.test(e.type);
      list.append(h("li", { class: `${isDocEvent(e.type) ? "t-doc" : ""} ${bad ? "t-bad" : ""}`.trim(), "data-type": e.type },
        h("div", {}, h("span", { class: "ev-type" }, e.type), " ", h("span", { class: "ev-meta" }, `#${e.seq}`)),
        h("div", { class: "ev-meta" }, h("time", { datetime: e.time }, fmtTime(e.time)), " · by ", actorText(e.actor)),
        h("div", { class: "ev-data" }, summary(e.type, e.data))));
    }
    if (!list.children.length) list.append(h("li", { class: "hint" }, "No events."));
    auditCursor = out.next_cursor || null;
    $("#audit-more").hidden = !auditCursor;
  } catch (err) { showError(err); }
}

export function initAudit() {
  $("#audit-more").addEventListener("click", (e) => busy(e.currentTarget, () => loadAudit(auditJob, false)));
  $("#audit-docs").addEventListener("change", () => loadAudit(auditJob, true));
  $("#audit-latest").addEventListener("click", (e) => busy(e.currentTarget, () => {
    const last = auditLatest();
    return loadAudit(auditJob, false, String(Math.max(1, last - AUDIT_PAGE + 1)));
  }));
}
