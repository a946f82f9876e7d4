// Session handling. The session (access and refresh token) lives in
// localStorage, so a new tab or a deep link opened from elsewhere is
// already signed in. Both tokens are stored, not the refresh token alone
// with the access token in memory: the refresh token is the stronger of
// the two, so keeping the access token in memory would not shrink what a
// script injected into the page could take (the CSP and text-only
// rendering are the defence there), and it would make every new tab spend
// a refresh at start, racing the other tabs for the single-use refresh
// token. Tabs share one session: a refresh is serialised across tabs with
// the Web Locks API and skipped when another tab has just refreshed, and
// a logout clears the storage, which every other tab hears through the
// storage event and answers by showing the sign-in form.
// The server rotates the refresh token on every refresh, so the new pair
// replaces the old.

import { post, get, setTokenSource } from "./api.js";

const KEY = "tagstream.session";
const listeners = new Set();
let refreshing = null;
let timer = null;

function load() {
  try { return JSON.parse(localStorage.getItem(KEY)) || null; } catch { return null; }
}

function save(s) {
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
  changed(s);
}

function changed(s) {
  schedule();
  for (const fn of listeners) fn(s);
}

// Another tab logged in, refreshed or logged out: follow it. (The storage
// event fires in every tab but the one that wrote.)
window.addEventListener("storage", (e) => {
  if (e.key !== KEY && e.key !== null) return;
  changed(load());
});

export function session() { return load(); }
export function accessToken() { const s = load(); return s ? s.access_token : ""; }
export function onChange(fn) { listeners.add(fn); }

function withTokens(s, tokens) {
  return {
    ...s,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    lifetime_ms: tokens.expires_in * 1000,
    expires_at: Date.now() + tokens.expires_in * 1000,
  };
}

// margin is how long before expiry the console refreshes: a fifth of the
// lifetime, at least 10 s and at most 60 s, so short test lifetimes work too.
function margin(s) { return Math.min(60000, Math.max(10000, (s.lifetime_ms || 0) / 5)); }

function schedule() {
  clearTimeout(timer);
  const s = load();
  if (!s) return;
  const wait = Math.max(1000, s.expires_at - margin(s) - Date.now());
  timer = setTimeout(() => { refresh(); }, wait);
}

// refresh trades the refresh token for a new pair. Concurrent callers share
// one request: a rotated token is single-use, so a second parallel refresh
// would be refused and log the user out.
export function refresh() {
  if (refreshing) return refreshing;
  const seen = load();
  if (!seen || !seen.refresh_token) return Promise.resolve(false);
  const once = async () => {
    // Under the lock, re-read: another tab may have refreshed while this
    // one waited, and its new pair is the one to use.
    const s = load();
    if (!s || !s.refresh_token) return false;
    if (s.refresh_token !== seen.refresh_token) return true;
    try {
      const tokens = await post("/api/auth/refresh", { refresh_token: s.refresh_token }, { auth: false });
      save(withTokens(load() || s, tokens));
      return true;
    } catch (err) {
      if (err.status === 401 || err.status === 400) save(null); // the session is over
      return false;
    }
  };
  const locks = typeof navigator !== "undefined" && navigator.locks;
  refreshing = (locks ? locks.request("tagstream.refresh", once) : once()).finally(() => { refreshing = null; });
  return refreshing;
}

async function ensureFresh() {
  const s = load();
  if (s && Date.now() > s.expires_at - margin(s) / 2) await refresh();
}

setTokenSource({ access: accessToken, ensureFresh, refresh });

export async function login(email, password) {
  const out = await post("/api/auth/login", { email, password }, { auth: false });
  save(withTokens({ user: out.user }, out.tokens));
  return out.user;
}

export async function register(email, password, fullName, invitation) {
  const body = { email, password };
  if (fullName) body.full_name = fullName;
  if (invitation) body.invitation = invitation;
  await post("/api/auth/register", body, { auth: false });
  return login(email, password);
}

export async function logout() {
  const s = load();
  save(null);
  if (s && s.refresh_token) {
    try { await post("/api/auth/logout", { refresh_token: s.refresh_token }, { auth: false }); } catch { /* already gone */ }
  }
}

// start re-arms the refresh timer after a reload and checks that the
// stored session is still accepted.
export async function start() {
  schedule();
  if (!load()) return null;
  try {
    const me = await get("/api/auth/me");
    const s = load();
    if (s) save({ ...s, user: me });
    return me;
  } catch (err) {
    if (err.status === 401) save(null);
    return load() ? load().user : null;
  }
}

// adopt stores a session opened elsewhere: the single sign-on callback
// page (sso.js) gets the same {user, tokens} as a password login.
export function adopt(user, tokens) {
  save(withTokens({ user }, tokens));
}
