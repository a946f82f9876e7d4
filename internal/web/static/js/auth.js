// Session handling. Tokens live in sessionStorage: they survive a reload
// but not the tab, and are never written to localStorage or cookies. The
// access token is refreshed shortly before it expires; the server rotates
// the refresh token on every refresh, so the new pair replaces the old.

import { post, get, setTokenSource } from "./api.js";

const KEY = "tagstream.session";
const listeners = new Set();
let refreshing = null;
let timer = null;

function load() {
  try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch { return null; }
}

function save(s) {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  schedule();
  for (const fn of listeners) fn(s);
}

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
  const s = load();
  if (!s || !s.refresh_token) return Promise.resolve(false);
  refreshing = post("/api/auth/refresh", { refresh_token: s.refresh_token }, { auth: false })
    .then((tokens) => { save(withTokens(load() || s, tokens)); return true; })
    .catch((err) => {
      if (err.status === 401 || err.status === 400) save(null); // the session is over
      return false;
    })
    .finally(() => { refreshing = null; });
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

export async function register(email, password, fullName) {
  const body = { email, password };
  if (fullName) body.full_name = fullName;
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
