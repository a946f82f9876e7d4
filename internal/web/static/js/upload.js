// The "start a batch" form: the CSV is parsed in the browser (RFC 4180
// quoting, CRLF, a UTF-8 BOM, UTF-16 with a BOM, comma/semicolon/tab
// separators; bytes that are not UTF-8 are an error naming the line), its columns
// are mapped to Tagstream's fields, and the rows go to the server as
// objects of columns so that extra columns come back with the results.

import { get, post, missingEndpoint } from "./api.js";
import { $, h, clear, fillTable, showError, showInfo, busy, hideAlert, clearError } from "./dom.js";

// csvText decodes a CSV file's bytes as the CLI does (internal/csvin
// Text): UTF-16 with a byte-order mark is decoded, strictly; anything else
// must be UTF-8 (its mark is dropped by parseCSV). Bytes that are not, or a
// NUL, are an error naming the line and byte: file.text() read a
// Windows-1252 "é" as U+FFFD into the job's titles, and no other encoding
// is guessed.
export function csvText(b, name) {
  const at = (line, rest) => new Error(`${name} line ${line}${rest}`);
  if ((b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0) || (b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff)) {
    throw new Error(`${name} is UTF-32 text, which is not read: save it as UTF-8 (in Excel: CSV UTF-8)`);
  }
  const le = b[0] === 0xff && b[1] === 0xfe, be = b[0] === 0xfe && b[1] === 0xff;
  if (le || be) {
    let text;
    try {
      text = new TextDecoder(le ? "utf-16le" : "utf-16be", { fatal: true }).decode(b);
    } catch {
      throw new Error(`${name} is not valid UTF-16 (an unpaired surrogate or half a character): save it as UTF-8 (in Excel: CSV UTF-8)`);
    }
    const nul = text.indexOf("\0");
    if (nul >= 0) throw at(text.slice(0, nul).split("\n").length, ": a NUL character, which no text holds");
    return text;
  }
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(b);
  } catch {
    text = null;
  }
  const bad = text === null ? firstInvalidUTF8(b) : b.indexOf(0);
  if (bad >= 0) {
    const start = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
    let line = 1, lineStart = start;
    for (let i = start; i < bad; i++) if (b[i] === 0x0a) { line++; lineStart = i + 1; }
    const where = `, byte ${bad - lineStart + 1}: `;
    if (b[bad] === 0) throw at(line, where + "a NUL byte, which no text holds (UTF-16 without a byte-order mark?): save the file as UTF-8 (in Excel: CSV UTF-8)");
    throw at(line, where + `not UTF-8 text (byte 0x${b[bad].toString(16).toUpperCase().padStart(2, "0")}; Latin-1 or Windows-1252?): save the file as UTF-8 (in Excel: CSV UTF-8; or iconv -f WINDOWS-1252 -t UTF-8), other encodings are not guessed`);
  }
  return text;
}

// firstInvalidUTF8 is the offset of the first byte not part of valid
// UTF-8 (as Go's utf8.DecodeRune sees it), or -1.
function firstInvalidUTF8(b) {
  for (let i = 0; i < b.length;) {
    const c = b[i];
    if (c < 0x80) { i++; continue; }
    const n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n === 0 || i + n > b.length) return i;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80, hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    if (b[i + 1] < lo || b[i + 1] > hi) return i;
    for (let k = 2; k < n; k++) if (b[i + k] < 0x80 || b[i + k] > 0xbf) return i;
    i += n;
  }
  return -1;
}

// parseCSV returns {headers, rows} where rows are objects keyed by header.
export function parseCSV(text) {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const sep = detectSeparator(text);
  const records = [];
  let field = "", record = [], quoted = false, i = 0, sawQuote = false;
  const endField = () => { record.push(sawQuote ? field : field.trim()); field = ""; sawQuote = false; };
  const endRecord = () => {
    endField();
    if (record.length > 1 || record[0] !== "") records.push(record);
    record = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"' && field.trim() === "") { quoted = true; sawQuote = true; field = ""; i++; continue; }
    if (c === sep) { endField(); i++; continue; }
    if (c === "\r" || c === "\n") {
      endRecord();
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
      continue;
    }
    field += c; i++;
  }
  if (quoted) throw new Error("The CSV ends inside a quoted field: a closing quote is missing.");
  if (field !== "" || record.length) endRecord();
  if (!records.length) throw new Error("The CSV file is empty.");
  const headers = uniqueHeaders(records[0]);
  const rows = records.slice(1).map((r) => {
    const o = {};
    headers.forEach((name, j) => { o[name] = r[j] === undefined ? "" : r[j]; });
    return o;
  });
  return { headers, rows, separator: sep };
}

// detectSeparator picks the candidate that occurs most in the first line
// outside quotes; spreadsheets in many locales export ';' or tab.
function detectSeparator(text) {
  let line = "", q = false;
  for (const c of text) {
    if (c === '"') q = !q;
    if (!q && (c === "\n" || c === "\r")) break;
    if (!q) line += c;
  }
  let best = ",", n = 0;
  for (const s of [",", ";", "\t"]) {
    const k = line.split(s).length - 1;
    if (k > n) { best = s; n = k; }
  }
  return best;
}

function uniqueHeaders(raw) {
  const seen = new Map();
  return raw.map((name, i) => {
    let n = name || `column_${i + 1}`;
    if (seen.has(n)) { seen.set(n, seen.get(n) + 1); n = `${n}_${seen.get(n)}`; } else seen.set(n, 1);
    return n;
  });
}

const norm = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "");

// Header names that mean a system field, best first. These are the
// defaults; loadRules replaces them with the server's (GET
// /api/batch/column-rules, the table the CLI uses), so both map alike.
let SYNONYMS = {
  file_path: ["file_path", "filepath", "path", "pdf_url", "url", "document_url", "file_url", "link", "pdf", "file", "pdf_link", "location", "source"],
  title: ["title", "document_title", "doc_title", "name", "document_name", "filename", "file_name"],
  description: ["description", "desc", "summary", "abstract", "notes"],
};

// autoMap returns {field: header} for the fields it can recognise.
export function autoMap(headers) {
  const out = {};
  const used = new Set();
  for (const [field, names] of Object.entries(SYNONYMS)) {
    for (const name of names) {
      const hit = headers.find((hd) => !used.has(hd) && norm(hd) === name);
      if (hit) { out[field] = hit; used.add(hit); break; }
    }
  }
  return out;
}

// loadRules fetches the server's auto-mapping rules; an older server
// without the endpoint leaves the defaults above.
export async function loadRules() {
  try {
    const r = await get("/api/batch/column-rules");
    if (Array.isArray(r.fields) && r.fields.length) {
      const next = {};
      for (const f of r.fields) if (f && f.field && Array.isArray(f.names)) next[f.field] = f.names;
      SYNONYMS = next;
    }
  } catch { /* keep the defaults */ }
}

// serverHasKey is null until /api/status answered.
let serverHasKey = null;

// applyKeyPolicy defaults the model to builtin/keywords on a server with
// no model key of its own (a first job with another model would fail),
// and says when a key is required.
export async function applyKeyPolicy() {
  try {
    const st = await get("/api/status", { auth: false });
    if (typeof st.server_has_key !== "boolean") return;
    serverHasKey = st.server_has_key;
  } catch { return; }
  const model = $("#model"), hint = $("#api-key-hint");
  if (!serverHasKey) {
    if (model.value === model.defaultValue) model.value = "builtin/keywords";
    if (hint) hint.textContent = "(required for any model other than builtin/*: this server has no key of its own; sent with this job only, never stored in the browser)";
  } else if (hint) {
    hint.textContent = "(optional: the server has a key; yours is sent with this job only, never stored in the browser)";
  }
}

// loadOrgs offers the organisations the caller may start jobs in (not
// those where it is an auditor: the server would refuse the start).
export async function loadOrgs() {
  let orgs = [];
  try { orgs = (await get("/api/orgs")).orgs || []; } catch { return; }
  const sel = $("#org-id");
  if (!sel) return;
  clear(sel);
  sel.append(h("option", { value: "" }, "None (only you)"));
  for (const o of orgs) {
    if (o.role === "auditor") continue;
    sel.append(h("option", { value: o.org_id }, `${o.name} (${o.role})`));
  }
  $("#org-pick").hidden = sel.options.length < 2;
}

// needsKey says whether a start with model and no key would be refused.
function needsKey(model) { return serverHasKey === false && !model.startsWith("builtin/"); }

// splitWords turns typed or loaded exclusion words into a clean list.
export function splitWords(text) {
  const seen = new Set();
  return text.split(/[\n,;\r]+/).map((w) => w.trim()).filter((w) => w && !w.startsWith("#") && !seen.has(w.toLowerCase()) && seen.add(w.toLowerCase()));
}

let parsed = null;

function mapping() {
  const m = {};
  for (const sel of document.querySelectorAll("#mapping select[data-field]")) {
    if (sel.value && sel.value !== sel.dataset.field) m[sel.value] = sel.dataset.field;
  }
  return m;
}

function mappedPathColumn() { return $("#map-file_path").value; }

function renderMapping(p, fileName) {
  const auto = autoMap(p.headers);
  $("#csv-summary").textContent = `${fileName}: ${p.rows.length} row${p.rows.length === 1 ? "" : "s"}, ${p.headers.length} column${p.headers.length === 1 ? "" : "s"} detected.`;
  clear($("#detected-columns")).append(h("span", { class: "hint" }, "Detected columns: "), ...p.headers.map((x) => h("span", { class: "chip col" }, x)));
  for (const sel of document.querySelectorAll("#mapping select[data-field]")) {
    const field = sel.dataset.field;
    clear(sel).append(h("option", { value: "" }, "(none)"), ...p.headers.map((x) => h("option", { value: x }, x)));
    sel.value = auto[field] || "";
  }
  const shown = p.rows.slice(0, 5);
  fillTable($("#preview"), ["#", ...p.headers], shown.map((r, i) => [String(i), ...p.headers.map((x) => r[x])]));
  clear($("#validate-out"));
  $("#mapping").hidden = false;
}

// isXLSX tells a spreadsheet from a CSV as the CLI does: by the name or
// the zip magic of its first bytes.
async function isXLSX(file) {
  if (/\.xlsx$/i.test(file.name)) return true;
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  return head.length === 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4;
}

// parseXLSX has the server read the first sheet with the CLI's reader and
// budgets; the answer has parseCSV's shape, {headers, rows}.
async function parseXLSX(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  const out = await post("/api/sheets/parse", { data: btoa(bin) });
  return { headers: out.headers || [], rows: out.rows || [] };
}

async function readFile(input) {
  const f = input.files && input.files[0];
  if (!f) return null;
  return { name: f.name, text: await f.text() };
}

function collect() {
  if (!parsed) throw new Error("Choose a CSV file first.");
  if (!parsed.rows.length) throw new Error("The CSV has a header but no rows.");
  const pathCol = mappedPathColumn();
  if (!pathCol) throw new Error("Choose which column holds the file path or URL.");
  const empty = parsed.rows.findIndex((r) => !String(r[pathCol] || "").trim());
  // Rows are named by their line in the file, as the CLI does (header = line 1).
  if (empty >= 0) throw new Error(`Line ${empty + 2} has no value in column "${pathCol}".`);
  return { documents: parsed.rows, column_mapping: mapping() };
}

function intIn(id, lo, hi, name) {
  const v = Number($(id).value);
  if (!Number.isInteger(v) || v < lo || v > hi) { $(id).focus(); throw new Error(`${name} must be a whole number from ${lo} to ${hi}.`); }
  return v;
}

function newJobID() {
  const b = new Uint8Array(6);
  crypto.getRandomValues(b);
  return `batch-${Math.floor(Date.now() / 1000)}-${Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")}`;
}

// The server checks at most this many rows per request (each may cost a
// network round trip); the start itself is not limited by it.
const VALIDATE_MAX = 1000;

function renderValidation(out, limited) {
  const box = clear($("#validate-out"));
  const rows = Array.isArray(out) ? out : out.results || out.documents || out.rows || [];
  const okOf = (r) => {
    for (const k of ["valid", "ok", "accessible", "exists", "reachable"]) if (typeof r[k] === "boolean") return r[k];
    if (typeof r.status === "string") return /^(ok|valid|success|accessible)$/i.test(r.status);
    return !r.error;
  };
  const bad = rows.filter((r) => !okOf(r));
  const total = typeof out.total === "number" ? out.total : rows.length;
  const valid = typeof out.valid === "number" ? out.valid : rows.length - bad.length;
  const summary = `${valid} of ${total} paths look usable.` + (limited ? ` Only the first ${VALIDATE_MAX} rows were checked.` : "");
  box.append(h("p", { class: bad.length ? "bad" : "ok" }, summary));
  if (!rows.length) return;
  const table = h("table", { class: "table" }, h("caption", {}, "Path check per row"));
  fillTable(table, ["Row", "Path", "Result", "Detail"], rows.map((r, i) => [
    String(r.row ?? r.row_id ?? r.index ?? i),
    h("td", { class: "path" }, r.file_path ?? r.path ?? ""),
    okOf(r) ? h("span", { class: "badge s-success" }, "ok") : h("span", { class: "badge s-failed" }, "problem"),
    r.error ?? r.message ?? r.detail ?? r.reason ?? r.file_source_type ?? "",
  ]));
  box.append(h("div", { class: "scroll" }, table));
}

// init wires the form; onStarted receives the new job id.
export function init(onStarted) {
  loadRules();
  applyKeyPolicy();
  $("#csv-file").addEventListener("change", async (e) => {
    hideAlert();
    parsed = null;
    $("#mapping").hidden = true;
    try {
      const file = e.target.files && e.target.files[0];
      if (!file) return;
      parsed = (await isXLSX(file)) ? await parseXLSX(file) : parseCSV(csvText(new Uint8Array(await file.arrayBuffer()), file.name));
      renderMapping(parsed, file.name);
      // The file's name names the job unless the user typed one.
      const nameIn = $("#job-name");
      if (!nameIn.value.trim() || nameIn.value === nameIn.dataset.auto) {
        nameIn.value = nameIn.dataset.auto = file.name.replace(/\.(csv|xlsx|txt)$/i, "").slice(0, 200);
      }
    } catch (err) {
      $("#csv-summary").textContent = err.message;
      showError(err);
    }
  });
  $("#exclusions-file").addEventListener("change", async (e) => {
    try {
      const f = await readFile(e.target);
      if (!f) return;
      // The server parses list files (one term per line or comma
      // separated, '#' comments) with the same code as the CLI.
      const loaded = (await post("/api/exclusions/parse", { text: f.text })).words || [];
      const have = splitWords($("#exclusions").value);
      const words = splitWords([...have, ...loaded].join("\n"));
      $("#exclusions").value = words.join(", ");
      showInfo(`Loaded ${words.length - have.length} exclusion words from ${f.name}.`);
    } catch (err) {
      showError(err);
    } finally {
      e.target.value = "";
    }
  });
  $("#validate-btn").addEventListener("click", (e) => busy(e.currentTarget, async () => {
    hideAlert();
    const box = clear($("#validate-out"));
    try {
      box.append(h("p", { class: "hint" }, "Checking paths…"));
      const { documents, column_mapping } = collect();
      const out = await post("/api/batch/validate-paths", { documents: documents.slice(0, VALIDATE_MAX), column_mapping });
      renderValidation(out, documents.length > VALIDATE_MAX);
    } catch (err) {
      clear(box);
      if (missingEndpoint(err)) box.append(h("p", { class: "notice" }, "This server cannot check paths yet. You can still start the batch; unreachable documents will be reported per row."));
      else showError(err, box);
    }
  }));
  let pendingID = null;
  $("#start-form").addEventListener("submit", (e) => {
    e.preventDefault();
    busy($("#start-btn"), async () => {
      hideAlert();
      clearError($("#start-actions"));
      try {
        const { documents, column_mapping } = collect();
        const model = $("#model").value.trim() || (serverHasKey === false ? "builtin/keywords" : "openai/gpt-4o-mini");
        if (needsKey(model) && !$("#api-key").value.trim()) {
          $("#api-key").focus();
          throw new Error(`This server has no API key for ${model}: enter your key, or choose builtin/keywords (offline, no key).`);
        }
        const config = {
          model_name: model,
          num_pages: intIn("#pages", 1, 10, "Pages"),
          num_tags: intIn("#tags", 3, 15, "Tags"),
        };
        const words = splitWords($("#exclusions").value);
        if (words.length) config.exclusion_words = words;
        const key = $("#api-key").value.trim();
        if (key) config.api_key = key;
        // A client-chosen id makes the start idempotent: resubmitting after
        // a lost answer returns the same job instead of a second one.
        pendingID = pendingID || newJobID();
        const body = { documents, config, job_id: pendingID };
        const name = $("#job-name").value.trim();
        if (name) body.name = name;
        const org = $("#org-id") ? $("#org-id").value : "";
        if (org) body.org_id = org;
        if (Object.keys(column_mapping).length) body.column_mapping = column_mapping;
        const out = await post("/api/batch/start", body);
        pendingID = null;
        $("#api-key").value = "";
        showInfo(out.message || `Started ${out.job_id}`, true);
        onStarted(out.job_id);
      } catch (err) {
        // A refused start (4xx) will be refused again: a corrected form is a
        // new request and needs a new id, or the server answers 409.
        if (err.status && err.status < 500) pendingID = null;
        showError(err, $("#start-actions"));
      }
    });
  });
  for (const sel of document.querySelectorAll("#mapping select[data-field]")) sel.addEventListener("change", () => clear($("#validate-out")));
}
