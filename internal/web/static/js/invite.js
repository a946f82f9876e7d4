// Invitations in the console, both ends. An admin who adds an address
// without an account under TAGSTREAM_REGISTRATION=invite gets an
// invitation back; the organisation page lists it as a registration link
// to hand on. The link is #/register?invitation=...&email=...&org=...:
// the token sits in the fragment, which browsers send neither to the
// server nor in a Referer, so it reaches no access log. The invitation is
// a secret: it is shown only in the adding admin's page, is dropped when
// that page is left or the session ends, and is never written to the
// browser console or to storage.

import { $, h, clear, fmtTime } from "./dom.js";

const enc = encodeURIComponent;
let shown = 0; // numbers the fields of each shown invitation for their labels

// showInvitation adds one added address's invitation (from the answer of
// POST /api/orgs/ID/members) to the organisation page's list.
export function showInvitation(orgId, added) {
  const inv = added.invitation;
  const link = `${location.origin}${location.pathname}#/register?invitation=${enc(inv.invitation)}&email=${enc(inv.email)}&org=${enc(orgId)}`;
  const n = ++shown;
  const field = (cls, value) => h("input", { type: "text", id: `${cls}-${n}`, class: `${cls} reason`, readonly: true, autocomplete: "off", spellcheck: "false", value });
  const copy = h("button", { type: "button", class: "invite-copy", onclick: (e) => copyLink(e.currentTarget, item) }, "Copy link");
  const item = h("li", { class: "invite-item", "data-email": inv.email },
    h("p", {}, `${inv.email} is added as ${added.role} and becomes a member once they register.`),
    h("label", { for: `invite-link-${n}` }, "Registration link"),
    h("div", { class: "row" }, field("invite-link", link), copy),
    h("label", { for: `invite-token-${n}` }, "Invitation code ", h("span", { class: "hint" }, "(for the API or the register form)")),
    h("div", { class: "row" }, field("invite-token", inv.invitation)),
    h("p", { class: "hint invite-expiry" }, `Valid until ${fmtTime(inv.expires_at)}.`));
  for (const old of $("#invite-list").querySelectorAll(`[data-email="${CSS.escape(inv.email)}"]`)) old.remove();
  $("#invite-list").prepend(item);
  $("#member-invite").hidden = false;
}

// hideInvitation forgets the shown invitations: another page or user
// must not find them in the document.
export function hideInvitation() {
  clear($("#invite-list"));
  $("#member-invite").hidden = true;
}

// copyLink puts a link on the clipboard; where the browser refuses (no
// permission, an insecure origin) the link stays selected for Ctrl+C.
async function copyLink(btn, item) {
  const field = item.querySelector(".invite-link");
  field.focus();
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    btn.textContent = "Copied";
  } catch {
    btn.textContent = "Selected: press Ctrl+C";
  }
}

export function initInvite() {
  $("#invite-close").addEventListener("click", hideInvitation);
}

let next = "";

// fillRegistration takes an invitation link's fields into the register
// form (route is the hash after "#/", e.g. "register?invitation=...").
export function fillRegistration(route) {
  const q = new URLSearchParams(route.includes("?") ? route.slice(route.indexOf("?") + 1) : "");
  const tok = q.get("invitation");
  if (!tok) return;
  $("#reg-invitation").value = tok;
  if (q.get("email")) $("#reg-email").value = q.get("email");
  $("#reg-invited").hidden = false;
  next = q.get("org") ? `#/orgs/${enc(q.get("org"))}` : "";
  ($("#reg-email").value ? $("#reg-password") : $("#reg-email")).focus();
}

// afterRegistration is where a new account lands: the organisation it
// was invited into, else the default page.
export function afterRegistration() {
  const to = next;
  next = "";
  return to;
}
