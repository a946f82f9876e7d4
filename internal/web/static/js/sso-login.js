// Shows "Sign in with single sign-on" on the sign-in form when the server
// has an OpenID provider configured (GET /auth/sso says {"enabled": true});
// without one the console looks as it always did.
const link = document.getElementById("sso-login");
if (link) {
  fetch("/auth/sso", { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((res) => (res.ok ? res.json() : null))
    .then((body) => { if (body && body.enabled === true) link.hidden = false; })
    .catch(() => { /* older server or unreachable: the password form stays */ });
}
