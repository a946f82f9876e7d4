// The search page: every document the user tagged, found by words of
// titles, tags, descriptions and extra columns, filtered by tag, status
// and time, newest first, a page at a time; the same search exports as
// CSV. Its state lives in the address (#/search/q=...&tag=...), so a
// search can be bookmarked and the back button works.

import { get, request } from "./api.js";
import { $, h, clear, fillTable, showError, clearError, badge, chips, fmtTime, busy, announce } from "./dom.js";
import { readsAll } from "./reads.js";

const FIELDS = ["q", "tag", "status", "since", "until", "job_id"];
const STATUSES = ["", "success", "failed", "pending", "processing", "cancelled"];
let built = false;
let current = {}; // the search shown
let cursor = null; // the next page's cursor

function field(id, label, input, hint) {
  return h("div", {}, h("label", { for: id }, label), input, hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null);
}

function build(view) {
  const form = h("form", { id: "search-form", class: "card", role: "search", novalidate: true },
    h("div", { class: "grid2" },
      field("search-q", "Words", h("input", { id: "search-q", name: "q", type: "text", maxlength: 500, "aria-describedby": "search-q-hint" }),
        "Every word must occur in a title, tag, description or extra column; end a word with * for a prefix."),
      field("search-tag", "Tag", h("input", { id: "search-tag", name: "tag", type: "text", maxlength: 500 })),
      field("search-status", "Status", h("select", { id: "search-status", name: "status" },
        STATUSES.map((s) => h("option", { value: s }, s || "any")))),
      field("search-job_id", "Job", h("input", { id: "search-job_id", name: "job_id", type: "text", maxlength: 128 })),
      // Text, not type=date: the server also takes an RFC 3339 time.
      field("search-since", "Job started from", h("input", { id: "search-since", name: "since", type: "text", placeholder: "2026-12-01" })),
      field("search-until", "Job started until (inclusive)", h("input", { id: "search-until", name: "until", type: "text", placeholder: "2026-12-31" })),
    ),
    // Built for everyone, shown by offerAll: the page outlives a change of user.
    h("p", { id: "search-all-wrap", hidden: true }, h("label", {}, h("input", { id: "search-all", type: "checkbox" }), " ", h("span", { id: "search-all-text" }))),
    h("p", { class: "actions" },
      h("button", { type: "submit" }, "Search"),
      h("button", { type: "button", id: "search-csv", class: "secondary" }, "Export CSV")),
    h("p", { id: "search-csv-out" }));
  const table = h("table", { id: "search-results", class: "table" }, h("caption", { class: "sr-only" }, "Documents found"));
  view.append(h("h1", { id: "search-h" }, "Search documents"), form,
    h("p", { id: "search-count", class: "hint", "aria-live": "polite" }), h("div", { class: "scroll" }, table),
    h("p", {}, h("button", { type: "button", id: "search-more", class: "secondary", hidden: true }, "More")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    for (const f of FIELDS) { const v = $(`#search-${f}`).value.trim(); if (v) p.set(f, v); }
    if (!$("#search-all-wrap").hidden && $("#search-all").checked) p.set("all", "true");
    const next = `#/search/${p.toString()}`;
    if (location.hash === next) run(false); else location.hash = next; // the route runs it
  });
  $("#search-more").addEventListener("click", (e) => busy(e.currentTarget, () => run(true)));
  $("#search-csv").addEventListener("click", (e) => busy(e.currentTarget, exportCSV));
  built = true;
}

function row(d) {
  const job = h("a", { href: `#/jobs/${encodeURIComponent(d.job_id)}` }, d.job_id);
  const title = d.title || d.file_path || `row ${d.row_id}`;
  return h("tr", {},
    h("td", {}, title), h("td", {}, badge(d.status)), h("td", {}, chips(d.tags)),
    h("td", {}, job, ` #${d.row_id}`), h("td", {}, fmtTime(d.created_at)), h("td", {}, d.error || ""));
}

async function run(more) {
  const form = $("#search-form");
  clearError(form);
  const query = { ...current, limit: 50 };
  if (more && cursor) query.cursor = cursor;
  try {
    const page = await get("/api/documents", { query });
    const table = $("#search-results");
    let body = table.querySelector("tbody");
    if (!more || !body) body = fillTable(table, ["Document", "Status", "Tags", "Job", "Job started", "Error"], []);
    for (const d of page.documents) body.append(row(d));
    cursor = page.next_cursor || null;
    $("#search-more").hidden = !cursor;
    const n = body.children.length;
    const text = n ? `${n} document${n === 1 ? "" : "s"}${cursor ? " shown, more match" : ""}.` : "No documents found.";
    $("#search-count").textContent = text;
    announce(text);
  } catch (err) {
    // A bad parameter names its field: put the message by that field.
    showError(err, form);
    if (err.field && $(`#search-${err.field}`)) $(`#search-${err.field}`).focus();
  }
}

async function exportCSV() {
  const out = clear($("#search-csv-out"));
  try {
    const res = await request("GET", "/api/documents", { query: { ...current, format: "csv" }, raw: true });
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: "documents.csv", id: "search-csv-link" }, `Download documents.csv (${blob.size} bytes)`);
    out.append(a);
    // One export holds at most the server's bound of rows; the rest
    // would follow from a cursor the browser cannot read (an HTTP
    // trailer), so a full export says that it may stop short.
    const bound = parseInt(res.headers.get("X-Tagstream-Export-Rows") || "0", 10);
    const rows = csvRecords(await blob.text()) - 1;
    if (bound > 0 && rows >= bound) {
      out.append(h("br"), h("span", { id: "search-csv-short", class: "notice", role: "status" },
        `This export holds the first ${bound.toLocaleString()} documents, the most one export holds; more may match. ` +
        "Narrow the search (dates, tag, status), or run tagstream documents search --csv, which exports them all."));
    }
    a.click();
  } catch (err) { showError(err, $("#search-form")); }
}

// csvRecords counts the records of CSV text: line ends outside quotes
// (a doubled quote inside a field toggles twice).
function csvRecords(text) {
  let n = 0, quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (c === 10 && !quoted) n++;
  }
  return text.length > 0 && text.charCodeAt(text.length - 1) !== 10 ? n + 1 : n;
}

// showSearch shows the page for the search in the address (after
// "#/search/"), running it when it names anything.
export function showSearch(params) {
  const view = $("#view-search");
  if (!built) build(view);
  const p = new URLSearchParams(params || "");
  current = {};
  for (const f of FIELDS) {
    const v = p.get(f) || "";
    $(`#search-${f}`).value = v;
    if (v) current[f] = v;
  }
  $("#search-all").checked = p.get("all") === "true";
  if (p.get("all") === "true") current.all = "true";
  cursor = null;
  // The switch first (its answer is cached after the first page), so a
  // shown result means the switch is settled too.
  offerAll().then(() => run(false));
}

// offerAll shows the "all" switch to whoever all=true reads more for
// (reads.js), worded for what it adds.
async function offerAll() {
  const reads = await readsAll();
  $("#search-all-wrap").hidden = !reads;
  $("#search-all-text").textContent = reads === "orgs" ? "Documents of my organisations too" : "Everyone's documents";
}
