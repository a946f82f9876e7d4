// The analytics page: a summary over the job history with small SVG
// charts. The summary's exact shape is read leniently (maps or lists of
// objects) so the page keeps working while the endpoint evolves.

import { get, missingEndpoint } from "./api.js";
import { $, h, clear, fillTable, showError } from "./dom.js";
import { fmtUSD } from "./usage.js";

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

const LABEL_KEYS = ["label", "name", "status", "tag", "reason", "model", "date", "day", "key", "value"];
const VALUE_KEYS = ["count", "value", "n", "documents", "total", "jobs"];

// pairs turns {a: 1} or [{tag: "a", count: 1}] or [["a", 1]] into [[label, number]].
export function pairs(x) {
  if (!x) return [];
  if (Array.isArray(x)) {
    return x.map((e) => {
      if (Array.isArray(e)) return [String(e[0]), Number(e[1]) || 0];
      if (e && typeof e === "object") {
        const lk = LABEL_KEYS.find((k) => typeof e[k] === "string");
        let vk = VALUE_KEYS.find((k) => typeof e[k] === "number");
        let v = vk ? e[vk] : 0;
        if (!vk && (typeof e.success === "number" || typeof e.failed === "number")) v = (e.success || 0) + (e.failed || 0);
        const label = String(lk ? e[lk] : "?");
        return [typeof e.code === "string" && e.code && lk !== "code" ? `${label} (${e.code})` : label, Number(v) || 0, e];
      }
      return [String(e), 0];
    });
  }
  if (typeof x === "object") return Object.entries(x).map(([k, v]) => [k, typeof v === "number" ? v : Number(v && (v.count ?? v.total)) || 0]);
  return [];
}

// hbars is a horizontal bar chart in HTML, not SVG: a label wraps onto
// as many lines as it needs (no cut at a fixed width, readable at 360 px)
// and carries its full text as a tooltip; the numbers are in the text, so
// the chart reads without colour and with a screen reader. An item's
// third element may add a note (a failure code's example message).
function hbars(title, data, colour = "#1d4ed8") {
  const max = Math.max(1, ...data.map((d) => d[1]));
  const list = h("ul", { class: "hbars", "aria-label": title });
  for (const [label, v, raw] of data) {
    const note = typeof raw === "string" ? raw : "";
    const bar = h("span", { class: "hbar-bar", "aria-hidden": "true" });
    bar.style.width = `${Math.max(0.5, (100 * v) / max)}%`;
    bar.style.background = colour;
    list.append(h("li", { title: note ? `${label}: ${v} (e.g. ${note})` : `${label}: ${v}` },
      h("span", { class: "hbar-label" }, label, note ? h("span", { class: "hbar-note" }, `e.g. ${note}`) : null),
      h("span", { class: "hbar-track" }, bar, h("span", { class: "hbar-value" }, String(v)))));
  }
  return chart(title, data.length ? list : h("p", { class: "hint" }, "No data yet."));
}

// byCode groups failure reasons by their code (one code, many messages
// that differ by a path or a number), keeping the most frequent message
// as the example; reasons without a code stay apart by message.
export function byCode(list) {
  const groups = new Map();
  for (const e of Array.isArray(list) ? list : []) {
    const code = (e && e.code) || "";
    const msg = String((e && (e.value ?? e.reason ?? e.label)) || "");
    const key = code || `msg:${msg}`;
    const n = Number(e && (e.count ?? e.n)) || 0;
    const g = groups.get(key) || { label: code || msg, count: 0, example: "", best: -1 };
    g.count += n;
    if (code && n > g.best) { g.example = msg; g.best = n; }
    groups.set(key, g);
  }
  return Array.from(groups.values()).sort((a, b) => b.count - a.count || a.label.localeCompare(b.label))
    .map((g) => [g.label, g.count, g.example]);
}

// columns is a column chart over days.
function columns(title, data) {
  const w = 380, hgt = 170, pad = 20;
  const max = Math.max(1, ...data.map((d) => d[1]));
  const bw = data.length ? (w - pad * 2) / data.length : 0;
  const svg = s("svg", { viewBox: `0 0 ${w} ${hgt + 30}`, role: "img", "aria-label": `${title}: ${data.map((d) => `${d[0]} ${d[1]}`).join(", ") || "no data"}` });
  svg.append(s("line", { x1: pad, y1: hgt, x2: w - pad, y2: hgt, stroke: "#6b7280" }));
  data.forEach(([label, v], i) => {
    const bh = ((hgt - 20) * v) / max;
    const x = pad + i * bw;
    const raw = data[i][2] || {};
    // Days that split success and failure stack the failures on top in red.
    const failed = typeof raw.failed === "number" ? raw.failed : 0;
    const fh = v ? (bh * failed) / v : 0;
    const r = s("rect", { x: x + bw * 0.15, y: hgt - bh + fh, width: Math.max(1, bw * 0.7), height: bh - fh, fill: "#0f766e" });
    r.append(s("title", {}, `${label}: ${v}${failed ? `, ${failed} failed` : ""}`));
    svg.append(r);
    if (fh > 0) svg.append(s("rect", { x: x + bw * 0.15, y: hgt - bh, width: Math.max(1, bw * 0.7), height: fh, fill: "#b91c1c" }));
    svg.append(s("text", { x: x + bw / 2, y: hgt - bh - 4, "text-anchor": "middle" }, String(v)));
    if (data.length <= 14 || i % Math.ceil(data.length / 10) === 0) svg.append(s("text", { x: x + bw / 2, y: hgt + 16, "text-anchor": "middle" }, label.slice(5)));
  });
  const legend = h("ul", { class: "legend" },
    h("li", {}, h("span", { class: "swatch s-ok", "aria-hidden": "true" }), "Tagged"),
    h("li", {}, h("span", { class: "swatch s-bad", "aria-hidden": "true" }), "Failed"));
  return chart(title, data.length ? [legend, svg] : h("p", { class: "hint" }, "No data yet."));
}

function chart(title, body) {
  return h("section", { class: "card chart" }, h("h2", {}, title), body);
}

function rate(x) {
  if (typeof x !== "number") return null;
  return x > 1 ? x : x * 100;
}

// perModel renders percentile data keyed by model as a table.
function perModel(title, x) {
  let rows = [];
  if (Array.isArray(x)) rows = x;
  else if (x && typeof x === "object") rows = Object.entries(x).map(([model, v]) => ({ model, ...(typeof v === "object" ? flatten(v) : { value: v }) }));
  if (!rows.length) return null;
  const cols = Array.from(rows.reduce((set, r) => { Object.keys(flatten(r)).forEach((k) => set.add(k)); return set; }, new Set()));
  const table = h("table", { class: "table" }, h("caption", { class: "sr-only" }, title));
  const pretty = (c) => c.replace(/_ms$/, " (ms)").replace(/[_.]/g, " ").replace(/^./, (x) => x.toUpperCase());
  fillTable(table, cols.map(pretty), rows.map((r) => { const f = flatten(r); return cols.map((c) => (typeof f[c] === "number" ? String(Math.round(f[c] * 100) / 100) : f[c] ?? "")); }));
  return h("section", { class: "card" }, h("h2", {}, title), h("div", { class: "scroll" }, table));
}

function flatten(o, prefix = "", out = {}) {
  for (const [k, v] of Object.entries(o || {})) {
    if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, `${prefix}${k}.`, out);
    else out[prefix + k] = v;
  }
  return out;
}

export async function showAnalytics() {
  const box = clear($("#analytics"));
  box.append(h("p", { class: "hint" }, "Loading…"));
  let sum;
  try {
    sum = await get("/api/analytics/summary");
  } catch (err) {
    clear(box);
    if (missingEndpoint(err)) box.append(h("p", { class: "notice" }, "Analytics are not available on this server yet."));
    else showError(err);
    return;
  }
  clear(box);
  const r = rate(sum.success_rate);
  const head = h("section", { class: "card" }, h("h2", {}, "Document success rate"),
    h("p", { class: `big ${r !== null && r < 90 ? "bad" : "ok"}` }, r === null ? "–" : `${r.toFixed(1)}%`),
    typeof sum.documents === "number" ? h("p", {}, `${sum.documents} documents processed`) : null,
    h("p", { class: "hint" }, "Each attempt counts: a retried document is counted again, unlike in a job's status."),
    sum.scope ? h("p", { class: "hint" }, `Scope: ${sum.scope}`) : null);
  const grid = h("div", { class: "charts" },
    head,
    hbars("Jobs by status", pairs(sum.jobs_by_status)),
    columns("Documents per day", pairs(sum.documents_per_day).sort((a, b) => a[0].localeCompare(b[0]))),
    hbars("Top tags", pairs(sum.top_tags).slice(0, 15), "#7c3aed"),
    hbars("Top failure reasons (by code)", byCode(sum.top_failure_reasons).slice(0, 10), "#b91c1c"));
  box.append(grid);
  const cost = costTable(sum.usage_per_model_day);
  if (cost) box.append(cost);
  for (const [k, v] of Object.entries(sum)) {
    if (k === "usage_per_model_day") continue;
    if (/model|duration|token|percentile/i.test(k) && v && typeof v === "object") {
      const t = perModel(k.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()), v);
      if (t) box.append(t);
    }
  }
}

// costTable lists model use and cost per model and day (UTC), newest day
// first, with a total: dollars keep four decimals, so a cheap model's
// cents do not round to nothing.
function costTable(list) {
  if (!Array.isArray(list) || !list.length) return null;
  const rows = [...list].sort((a, b) => String(b.date).localeCompare(String(a.date)) || String(a.model).localeCompare(String(b.model)));
  const total = rows.reduce((t, r) => t + (Number(r.cost_usd) || 0), 0);
  const table = h("table", { class: "table", id: "cost-per-model-day" }, h("caption", { class: "sr-only" }, "Cost per model and day"));
  const body = fillTable(table, ["Day (UTC)", "Model", "Documents", "Model calls", "Prompt tokens", "Completion tokens", "Cache hits", "Cost"],
    rows.map((r) => [r.date, r.model || "(none)", String(r.documents ?? 0), String(r.model_calls ?? 0), String(r.prompt_tokens ?? 0),
      String(r.completion_tokens ?? 0), String(r.cached ?? 0), fmtUSD(r.cost_usd)]));
  body.append(h("tr", { class: "total" }, h("th", { scope: "row", colspan: "7" }, "Total"), h("td", {}, fmtUSD(total))));
  return h("section", { class: "card" }, h("h2", {}, "Cost per model and day"), h("div", { class: "scroll" }, table));
}
