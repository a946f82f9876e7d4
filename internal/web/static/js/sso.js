// The single sign-on callback page: the server put the session it opened
// (as a password login returns it) in a meta tag, because the CSP forbids
// inline script. Store it like a login does, then open the job list; the
// replace drops the callback address, which held the authorization code,
// from the history.
import { adopt } from "./auth.js";

const meta = document.querySelector('meta[name="tagstream-session"]');
try {
  const out = JSON.parse(meta.content);
  adopt(out.user, out.tokens);
  location.replace("/#/jobs");
} catch {
  document.querySelector("main").textContent = "Sign-in failed: the session could not be stored. Start the sign-in again.";
}
