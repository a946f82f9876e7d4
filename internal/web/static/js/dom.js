// Small DOM helpers. Every piece of server or file data goes in as text
// (textContent), never parsed as markup, so a hostile title or tag cannot run script.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// h builds an element: h("td", {class: "x", onclick: fn}, "text", child...).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) { el.replaceChildren(); return el; }

// table fills a <table> with a header row and body rows of cells.
export function fillTable(table, headers, rows) {
  const caption = table.querySelector("caption");
  clear(table);
  if (caption) table.append(caption);
  table.append(h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))));
  const body = h("tbody");
  for (const r of rows) body.append(r instanceof Node ? r : h("tr", {}, r.map((c) => (c instanceof Node && c.tagName === "TD" ? c : h("td", {}, c)))));
  table.append(body);
  return body;
}

let alertTimer;
let carryOnce = false;

function errText(err) {
  return typeof err === "string" ? err : err && err.detail ? err.detail : err && err.message ? err.message : String(err);
}

// showError puts a message where the user acted: with `where` (a form or
// an action row) it goes in that place's own error box (role=alert, so
// screen readers announce it) and is scrolled into view, because a
// message at the top of a long page goes unseen; without it, in the page's
// alert region. API errors show the server's own detail.
export function showError(err, where) {
  if (!where) { say(errText(err), false); return; }
  hideAlert();
  let box = where.querySelector(":scope > .inline-error");
  if (!box) {
    box = h("p", { class: "inline-error", role: "alert" });
    where.append(box);
  }
  box.textContent = errText(err);
  box.hidden = false;
  box.scrollIntoView({ block: "center" });
}

// clearError hides the error box of a place, on success or a new attempt.
export function clearError(where) {
  const box = where && where.querySelector(":scope > .inline-error");
  if (box) { box.hidden = true; box.textContent = ""; }
}

// showInfo shows a passing notice; carry keeps it through the next
// navigation (a "job started" notice shown right before the job page opens).
export function showInfo(text, carry = false) { say(text, true); carryOnce = carry; }

function say(text, info) {
  carryOnce = false;
  const box = $("#alert");
  $("#alert-text").textContent = text;
  box.classList.toggle("info", info);
  box.hidden = false;
  clearTimeout(alertTimer);
  if (info) alertTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

export function hideAlert() { $("#alert").hidden = true; }

// hideStaleAlert clears a message on navigation: it was about the page
// the user left, unless it was shown to be carried over.
export function hideStaleAlert() {
  for (const b of $$(".inline-error")) { b.hidden = true; b.textContent = ""; }
  if (carryOnce) { carryOnce = false; return; }
  hideAlert();
}

let lastAnnounced = "";

// announce speaks through the polite live region, skipping repeats so a
// stream of progress updates does not flood a screen reader.
export function announce(text) {
  if (text === lastAnnounced) return;
  lastAnnounced = text;
  $("#live").textContent = text;
}

export function badge(status) {
  return h("span", { class: `badge s-${status || "unknown"}` }, status || "unknown");
}

export function chips(tags) {
  return (tags || []).map((t) => h("span", { class: "chip" }, t));
}

export function fmtTime(v) {
  if (!v) return "";
  const d = new Date(v);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 2000) return "";
  return d.toLocaleString();
}

export function pct(p) {
  const n = Math.max(0, Math.min(1, Number(p) || 0));
  return Math.round(n * 100);
}

// busy disables a button while an async action runs, so a double click
// cannot send the command twice.
export async function busy(btn, fn) {
  btn.disabled = true;
  try { return await fn(); } finally { btn.disabled = false; }
}

// onSubmit runs a form's async action the one way every form does: no
// page load, its button busy, earlier messages cleared, and a failure
// shown in the form itself. btn defaults to the form's first button.
export function onSubmit(form, fn, btn) {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(btn || form.querySelector("button"), async () => {
      hideAlert();
      clearError(form);
      try { await fn(); } catch (err) { showError(err, form); }
    });
  });
}
