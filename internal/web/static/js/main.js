// Entry point: hash routing between the views, the auth forms and the
// job page's tabs. Routes: #/login, #/new, #/jobs, #/jobs/ID, #/analytics,
// #/search[/PARAMS], #/orgs, #/orgs/ID, and #/register?invitation=...
// (an invitation link, see invite.js).

import * as auth from "./auth.js";
import * as upload from "./upload.js";
import { JobView } from "./job.js";
import { showJobs, initJobs, loadResults, initResults, loadAudit, initAudit, remember, setAuditLatest } from "./views.js";
import { showAnalytics } from "./analytics.js";
import { showSearch } from "./search.js";
import { showOrgs, showOrg, initOrgs } from "./orgs.js";
import { fillRegistration, afterRegistration, hideInvitation } from "./invite.js";
import { $, $$, showError, showInfo, hideAlert, hideStaleAlert, onSubmit } from "./dom.js";

const jobView = new JobView();
let currentJob = "";

function show(name) {
  for (const v of $$(".view")) v.hidden = v.id !== `view-${name}`;
  for (const a of $$("[data-nav]")) {
    if (a.dataset.nav === name || (name === "job" && a.dataset.nav === "jobs") || (name === "org" && a.dataset.nav === "orgs")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function route() {
  const s = auth.session();
  $("#nav").hidden = !s;
  $("#who").hidden = !s;
  $("#who-email").textContent = s && s.user ? s.user.email : "";
  const hash = location.hash.replace(/^#\/?/, "");
  const [page, ...rest] = hash.split("/");
  if (page !== "jobs" || !rest.length) { jobView.close(); currentJob = ""; }
  if (!s) {
    jobView.close();
    currentJob = "";
    hideInvitation(); // an admin's invitations are not for whoever signs in next
    show("auth");
    document.title = "Sign in – Tagstream";
    if (page.startsWith("register")) fillRegistration(hash);
    return;
  }
  if (page.startsWith("register")) {
    // An invitation link opened while signed in: it is for a new account.
    history.replaceState(null, "", "#/new");
    showInfo(`You are signed in as ${s.user ? s.user.email : "someone"}; the invitation link is for registering a new account.`);
  }
  switch (page) {
    case "jobs":
      if (rest.length) {
        const id = decodeURIComponent(rest.join("/"));
        show("job");
        document.title = `Job ${id} – Tagstream`;
        if (id !== currentJob) { currentJob = id; jobView.open(id); selectTab("live"); }
        return;
      }
      show("jobs");
      document.title = "Jobs – Tagstream";
      showJobs();
      return;
    case "search":
      show("search");
      document.title = "Search – Tagstream";
      showSearch(rest.join("/"));
      return;
    case "orgs":
      if (rest.length) {
        const id = decodeURIComponent(rest.join("/"));
        show("org");
        document.title = `Organisation ${id} – Tagstream`;
        showOrg(id);
        return;
      }
      show("orgs");
      document.title = "Organisations – Tagstream";
      showOrgs();
      return;
    case "analytics":
      show("analytics");
      document.title = "Analytics – Tagstream";
      showAnalytics();
      return;
    default:
      show("new");
      document.title = "New batch – Tagstream";
      upload.loadOrgs(); // signed in now; memberships may have changed
  }
}

// Tabs follow the WAI-ARIA pattern: arrow keys move between tabs, and only
// the selected tab is in the tab order.
const TABS = ["live", "results", "audit"];
function selectTab(name, focus = false) {
  for (const t of TABS) {
    const tab = $(`#tab-${t}`);
    const on = t === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`#panel-${t}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  if (name === "results") loadResults(currentJob, true);
  if (name === "audit") loadAudit(currentJob, true);
}

function initTabs() {
  for (const t of TABS) {
    const tab = $(`#tab-${t}`);
    tab.addEventListener("click", () => selectTab(t));
    tab.addEventListener("keydown", (e) => {
      const i = TABS.indexOf(t);
      let j = null;
      if (e.key === "ArrowRight") j = (i + 1) % TABS.length;
      if (e.key === "ArrowLeft") j = (i + TABS.length - 1) % TABS.length;
      if (e.key === "Home") j = 0;
      if (e.key === "End") j = TABS.length - 1;
      if (j !== null) { e.preventDefault(); selectTab(TABS[j], true); }
    });
  }
}

// afterLogin keeps a deep link: the sign-in form is shown without touching
// the address, so a user who opened #/jobs/ID lands on that job after
// logging in; only the bare or sign-in address goes to a new batch.
// An invitation link is replaced in the history, not followed, so its
// token does not stay behind the Back button.
function afterLogin(next) {
  const hash = location.hash.replace(/^#\/?/, "");
  if (hash.startsWith("register")) history.replaceState(null, "", next || "#/new");
  else if (!hash || hash === "login") location.hash = "#/new";
  route();
}

function initAuth() {
  onSubmit($("#login-form"), async () => {
    await auth.login($("#login-email").value.trim(), $("#login-password").value);
    $("#login-password").value = "";
    afterLogin();
  });
  onSubmit($("#register-form"), async () => {
    const pw = $("#reg-password").value;
    if (pw.length < 8) { showError("The password needs at least 8 characters.", $("#register-form")); $("#reg-password").focus(); return; }
    await auth.register($("#reg-email").value.trim(), pw, $("#reg-name").value.trim(), $("#reg-invitation").value.trim());
    $("#reg-password").value = "";
    $("#reg-invitation").value = "";
    $("#reg-invited").hidden = true;
    afterLogin(afterRegistration());
  });
  // The session is cleared at once and the server told in the background,
  // so the sign-in form is ready (and keeps focus) before a slow revoke ends.
  $("#logout").addEventListener("click", () => {
    auth.logout();
    location.hash = "#/login";
  });
  // A session that ends elsewhere (a refused refresh) sends the user back
  // to the sign-in form instead of failing every later call.
  // That includes a logout in another tab (auth.js hears it through the
  // storage event).
  auth.onChange((s) => { if (!s) route(); });
}

async function boot() {
  $("#alert-close").addEventListener("click", hideAlert);
  initAuth();
  initTabs();
  initJobs();
  initResults();
  initAudit();
  initOrgs();
  setAuditLatest(() => jobView.lastSeq());
  upload.init((id) => { remember(id); location.hash = `#/jobs/${encodeURIComponent(id)}`; });
  window.addEventListener("hashchange", () => { hideStaleAlert(); route(); $("#main").focus({ preventScroll: true }); });
  await auth.start();
  route();
  document.body.dataset.ready = "1";
}

boot().catch(showError);
