// Organisations: #/orgs lists the caller's organisations with its role in
// each and creates one; #/orgs/ID shows one organisation's members, its
// settings and its audit trail. The caller's role (from GET /api/orgs)
// decides which controls are shown: admins add, re-role and remove
// members and edit settings; auditors read settings and the audit trail;
// every member may leave. The server still checks each call, and its
// refusal is shown where the user acted. Removing a member takes a
// second, in-page confirmation (not window.confirm, which screen readers
// and automated browsers handle badly).

import { get, post, request, missingEndpoint } from "./api.js";
import { session } from "./auth.js";
import { forgetOrgs } from "./reads.js";
import { $, h, clear, fillTable, fmtTime, showError, clearError, showInfo, hideAlert, busy, onSubmit } from "./dom.js";
import { showInvitation, hideInvitation, initInvite } from "./invite.js";

const ROLES = ["member", "operator", "auditor", "admin"];
const enc = encodeURIComponent;
const base = (id) => `/api/orgs/${enc(id)}`;

let current = { id: "", role: "" };
let gen = 0; // only the newest page load writes to the view
let auditCursor = "";

export async function showOrgs() {
  const g = ++gen;
  let out;
  try { out = await get("/api/orgs"); } catch (err) {
    if (g === gen) showError(missingEndpoint(err) ? "This server has no organisations." : err);
    return;
  }
  if (g !== gen) return;
  const orgs = out.orgs || [];
  fillTable($("#orgs-table"), ["Organisation", "Your role", "Created"], orgs.length
    ? orgs.map((o) => h("tr", { "data-org": o.org_id },
      h("td", {}, h("a", { href: `#/orgs/${enc(o.org_id)}` }, o.name || o.org_id)),
      h("td", {}, h("span", { class: "badge" }, o.role)),
      h("td", {}, fmtTime(o.created_at))))
    : [[h("td", { colspan: 3, class: "hint" }, "You belong to no organisation yet.")]]);
}

// showOrg loads an organisation's page; keepInvite keeps the invitations
// shown (a reload after the admin's own change), opening the page drops them.
export async function showOrg(id, keepInvite = false) {
  const g = ++gen;
  current = { id, role: "" };
  if (!keepInvite) hideInvitation();
  for (const w of ["#org-members", "#member-add", "#org-settings", "#org-audit"]) clearError($(w));
  $("#org-title").textContent = "Organisation";
  $("#org-code").textContent = id;
  let mine;
  try { mine = (await get("/api/orgs")).orgs || []; } catch (err) { if (g === gen) showError(err); return; }
  if (g !== gen) return;
  const o = mine.find((x) => x.org_id === id);
  $("#org-missing").hidden = !!o;
  $("#org-body").hidden = !o;
  if (!o) return;
  current.role = o.role;
  $("#org-title").textContent = o.name || id;
  document.title = `${o.name || id} – Tagstream`;
  $("#org-role").textContent = o.role;
  const admin = o.role === "admin";
  const reads = admin || o.role === "auditor";
  $("#member-add").hidden = !admin;
  $("#org-settings").hidden = !reads;
  $("#org-audit").hidden = !reads;
  $("#set-retention").readOnly = !admin;
  $("#set-callback").readOnly = !admin;
  $("#settings-save").hidden = !admin;
  $("#settings-save").disabled = !admin; // no submission by Enter from a read-only field
  $("#settings-readonly").hidden = admin;
  await Promise.all([loadMembers(g), reads ? loadSettings(g) : null, reads ? loadAudit(g, true) : null]);
}

const me = () => (((session() || {}).user || {}).email || "").toLowerCase();

async function loadMembers(g) {
  let out;
  try { out = await get(`${base(current.id)}/members`); } catch (err) { if (g === gen) showError(err, $("#org-members")); return; }
  if (g !== gen) return;
  const admin = current.role === "admin";
  const headers = ["Email", "Role", "Since", "Added by"];
  if (admin) headers.push("Change");
  fillTable($("#members-table"), headers, (out.members || []).map((m) => h("tr", { "data-member": m.email },
    h("td", {}, m.email, m.email === me() ? h("span", { class: "hint" }, " (you)") : null),
    h("td", { class: "member-role" }, m.role),
    h("td", {}, fmtTime(m.since)),
    h("td", {}, m.added_by && (m.added_by.email || m.added_by.id) ? actor(m.added_by) : ""),
    admin ? h("td", {}, memberControls(m)) : null)));
}

// memberControls: an admin's role picker and removal for one member.
function memberControls(m) {
  const pick = h("select", { "aria-label": `Role of ${m.email}`, class: "role-pick" },
    ROLES.map((r) => h("option", { value: r, selected: r === m.role }, r)));
  const save = h("button", { type: "button", "data-do": "role", onclick: (e) =>
    change(e.currentTarget, "PATCH", m.email, { role: pick.value }, `${m.email} is now ${pick.value}.`) }, "Change role");
  return h("div", { class: "actions flat member-controls" }, pick, save, removal(m.email));
}

// removal is a Remove button that first turns, in place, into "Remove
// EMAIL?" with Confirm and Cancel (the look of the job page's cancel
// question); only Confirm sends the DELETE. Focus goes to Cancel, so a
// second Enter does not remove.
function removal(email) {
  const box = h("span", { class: "remove-step" });
  const idle = () => {
    const remove = h("button", { type: "button", class: "danger", "data-do": "remove", onclick: ask }, "Remove");
    box.className = "remove-step";
    box.removeAttribute("role");
    box.removeAttribute("aria-label");
    box.replaceChildren(remove);
    return remove;
  };
  function ask() {
    const cancel = h("button", { type: "button", "data-do": "cancel-remove", onclick: () => idle().focus() }, "Cancel");
    box.className = "remove-step confirm";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", `Remove ${email}?`);
    box.replaceChildren(h("span", {}, `Remove ${email}?`),
      h("button", { type: "button", class: "danger", "data-do": "confirm-remove", onclick: (e) =>
        change(e.currentTarget, "DELETE", email, undefined, `${email} was removed.`) }, "Confirm"),
      cancel);
    cancel.focus();
  }
  idle();
  return box;
}

async function change(btn, method, email, body, done) {
  const where = $("#org-members");
  const { id } = current;
  hideAlert();
  clearError(where);
  await busy(btn, async () => {
    try {
      await request(method, `${base(id)}/members/${enc(email)}`, { body });
    } catch (err) { showError(err, where); return; }
    forgetOrgs(); // the caller's own role may have changed: the "all" switches follow it
    if (id !== current.id) return;
    showInfo(done);
    if (method === "DELETE" && email === me()) { location.hash = "#/orgs"; return; }
    await showOrg(id, true); // roles may change what the caller sees
  });
}

async function loadSettings(g) {
  let s;
  try { s = await get(`${base(current.id)}/settings`); } catch (err) { if (g === gen) showError(err, $("#org-settings")); return; }
  if (g !== gen) return;
  $("#set-retention").value = String(s.retention_days ?? 0);
  $("#set-callback").value = s.callback_url || "";
}

// The audit trail in the log's order (oldest first), a page at a time.
async function loadAudit(g, reset) {
  if (reset) { auditCursor = ""; clear($("#org-timeline")); }
  let out;
  try { out = await get(`${base(current.id)}/events`, { query: { cursor: auditCursor } }); } catch (err) {
    if (g === gen) showError(err, $("#org-audit"));
    return;
  }
  if (g !== gen) return;
  for (const e of out.events || []) {
    $("#org-timeline").append(h("li", { "data-type": e.type },
      h("div", { class: "ev-type" }, describe(e)),
      h("div", { class: "ev-meta" }, h("time", { datetime: e.time }, fmtTime(e.time)), " · by ", actor(e.actor))));
  }
  auditCursor = out.next_cursor || "";
  $("#org-audit-more").hidden = !auditCursor;
  $("#org-audit-note").textContent = $("#org-timeline").children.length ? "" : "No events.";
}

const actor = (a) => (a && (a.email || a.id || a.kind)) || "unknown";
const bySSO = (d) => (d.reason === "sso" ? " (from single sign-on)" : "");

// describe says what an organisation event did, in words.
function describe(e) {
  const d = e.data || {};
  switch (e.type) {
    case "OrgCreated": return `Organisation created: ${d.name}`;
    case "OrgMemberAdded": return `Member added: ${d.email} as ${d.role}${bySSO(d)}`;
    case "OrgMemberRoleChanged": return `Role changed: ${d.email} from ${d.from} to ${d.to}${bySSO(d)}`;
    case "OrgMemberRemoved": return `Member removed: ${d.email} (was ${d.role})${bySSO(d)}`;
    case "OrgSettingsChanged": {
      const parts = [];
      const changed = d.changed || ["retention_days", "callback_url"];
      if (changed.includes("retention_days")) parts.push(d.retention_days ? `retention ${d.retention_days} days` : "retention off");
      if (changed.includes("callback_url")) parts.push(d.callback_url ? "default callback URL set" : "default callback URL removed");
      return `Settings changed: ${parts.join(", ")}`;
    }
    default: return e.type;
  }
}

export function initOrgs() {
  onSubmit($("#org-create"), async () => {
    const out = await post("/api/orgs", { name: $("#org-name").value.trim() });
    forgetOrgs(); // the creator is its admin, which reads all its jobs
    $("#org-name").value = "";
    showInfo(`Organisation ${out.name} created; you are its admin.`, true);
    location.hash = `#/orgs/${enc(out.org_id)}`;
  });
  onSubmit($("#member-add"), async () => {
    const role = $("#member-role").value;
    const out = await post(`${base(current.id)}/members`, { email: $("#member-email").value.trim(), role });
    $("#member-email").value = "";
    const id = current.id;
    if (out.invitation) {
      showInvitation(id, out);
      showInfo(`${out.email} is added as ${role}; hand on the invitation below so they can register.`);
    } else showInfo(out.account === false ? `${out.email} is added as ${role}; they join when they register.` : `${out.email} is added as ${role}.`);
    await showOrg(id, true);
  });
  initInvite();
  onSubmit($("#org-settings"), async () => {
    const raw = $("#set-retention").value.trim();
    // A number as typed: the server names the field if it is out of range.
    const body = { retention_days: raw === "" ? 0 : Number(raw), callback_url: $("#set-callback").value.trim() };
    await request("PATCH", `${base(current.id)}/settings`, { body });
    showInfo("Settings saved.");
    await showOrg(current.id, true);
  }, $("#settings-save"));
  $("#org-leave").addEventListener("click", (e) => change(e.currentTarget, "DELETE", me(), undefined, "You left the organisation."));
  $("#org-audit-more").addEventListener("click", (e) => busy(e.currentTarget, () => loadAudit(gen, false)));
}
