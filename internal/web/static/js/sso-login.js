// Shows "Sign in with single sign-on" on the sign-in form when the server
// has an OpenID provider configured (GET /auth/sso answers 200); without
// one the console looks as it always did.
const link = document.getElementById("sso-login");
if (link) {
  fetch("/auth/sso", { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((res) => { if (res.ok) link.hidden = false; })
    .catch(() => { /* no SSO, or the server is unreachable: the password form stays */ });
}
