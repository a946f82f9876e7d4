// The API client: JSON in and out, the bearer token on every call, one
// transparent token refresh on 401, and errors as ApiError carrying the
// server's {detail, code}.

let tokenSource = { access: () => "", ensureFresh: async () => {}, refresh: async () => false };

// setTokenSource lets auth.js plug in without an import cycle.
export function setTokenSource(src) { tokenSource = src; }

export class ApiError extends Error {
  constructor(status, detail, code, field) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.code = code || "";
    this.field = field || "";
  }
}

// missingEndpoint tells "this server has no such route" (an older or
// partly built server) from "no such job": both are 404, but only the
// former should make the console hide a feature instead of reporting it.
export function missingEndpoint(err) {
  if (!(err instanceof ApiError)) return false;
  if (err.status === 405 || err.code === "method_not_allowed" || err.status === 501) return true;
  return err.status === 404 && (/^no route/i.test(err.detail) || err.code === "" || err.code === "no_route");
}

async function errorFrom(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  const detail = body && typeof body.detail === "string" ? body.detail : `${res.status} ${res.statusText || "error"}`;
  return new ApiError(res.status, detail, body && body.code, body && body.field);
}

// request sends one API call. opts: body (JSON), auth (default true),
// raw (return the Response, for CSV), query (object of parameters).
export async function request(method, path, opts = {}) {
  const { body, auth = true, raw = false, query } = opts;
  let url = path;
  if (query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") qs.set(k, v);
    const s = qs.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  const send = async () => {
    const headers = { Accept: raw ? "*/*" : "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth) {
      await tokenSource.ensureFresh();
      const t = tokenSource.access();
      if (t) headers.Authorization = `Bearer ${t}`;
    }
    try {
      return await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
    } catch (e) {
      throw new ApiError(0, `Cannot reach the server (${e.message}). Check your connection and try again.`, "network");
    }
  };
  let res = await send();
  // A token can expire between the freshness check and the server's
  // check (clock skew, a sleeping laptop): refresh once and resend.
  if (res.status === 401 && auth && (await tokenSource.refresh())) res = await send();
  if (!res.ok) throw await errorFrom(res);
  if (raw) return res;
  if (res.status === 204) return {};
  const text = await res.text();
  return text ? JSON.parse(text) : {};
}

export const get = (path, opts) => request("GET", path, opts);
export const post = (path, body, opts = {}) => request("POST", path, { ...opts, body });
