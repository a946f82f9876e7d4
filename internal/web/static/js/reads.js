// What all=true adds for the signed-in user, so the job lists (views.js)
// and the search page (search.js) offer their "all" switch by one rule,
// the server's (internal/httpapi/scope.go readable, which asks
// services/access.go JobAccess): all=true adds every job outside
// organisations for a global auditor or admin, and every job of each
// organisation where the caller's role reads them all. A switch that
// would add nothing is not shown.

import { get } from "./api.js";
import { session, onChange } from "./auth.js";

// auth.Claims.CanReadAll: the global roles that read every job.
const GLOBAL_READERS = ["auditor", "admin"];
// services.JobAccess: the organisation roles that read every job of the
// organisation (admin and operator control them, auditor reads them); a
// member reads only its own.
const ORG_READERS = ["admin", "operator", "auditor"];

// The caller's organisations (GET /api/orgs), asked once per session:
// any login, logout, token refresh or change in another tab forgets them,
// and so does forgetOrgs after the user's own change of a membership.
let orgs = null;
onChange(() => { orgs = null; });
export function forgetOrgs() { orgs = null; }

function myOrgs() {
  if (!orgs) {
    const asked = get("/api/orgs").then((out) => out.orgs || [], () => {
      if (orgs === asked) orgs = null; // ask again next time
      return []; // no organisations endpoint, or not now: no org reads
    });
    orgs = asked;
  }
  return orgs;
}

// readsAll resolves to "global" when the global role reads every job (the
// switch is "all users'", on by default), "orgs" when only a role in some
// organisation reads all of that organisation's jobs, and "" when all=true
// would add nothing beyond the caller's own jobs (no switch).
export async function readsAll() {
  const user = (session() || {}).user;
  if (!user) return "";
  if (GLOBAL_READERS.includes(user.role)) return "global";
  return (await myOrgs()).some((o) => ORG_READERS.includes(o.role)) ? "orgs" : "";
}
