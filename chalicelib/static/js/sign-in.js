// Signing in: email and password, then the 6-digit code (or a backup code) when 2FA is on,
// or straight into enrollment when an organization's deadline has passed. Also creating an account.

import { ApiError, call } from "./api.js";
import { el, field, heading, onSubmit } from "./dom.js";
import { backupCodesPanel, enrollmentPanel } from "./enroll.js";
import { secondFactorForm } from "./second-factor.js";

export function signInPage(app) {
  return credentialsPage(app, {
    title: "Sign in",
    passwordAutocomplete: "current-password",
    submit: (email, password) => call("POST", "v1/sessions", { body: { email, password } }),
    other: el("p", {}, "New here? ", el("a", { href: "#/create-account" }, "Create account")),
  });
}

export function createAccountPage(app) {
  return credentialsPage(app, {
    title: "Create account",
    passwordAutocomplete: "new-password",
    hint: "At least 8 characters.",
    submit: async (email, password) => {
      await call("POST", "v1/users", { body: { email, password } });
      return call("POST", "v1/sessions", { body: { email, password } });
    },
    other: el("p", {}, "Already have an account? ", el("a", { href: "#/sign-in" }, "Sign in")),
  });
}

function credentialsPage(app, { title, passwordAutocomplete, hint, submit, other }) {
  const email = field("Email", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = field("Password", {
    type: "password",
    name: "password",
    autocomplete: passwordAutocomplete,
    required: true,
  });
  if (hint) password.row.append(el("p", { class: "hint" }, hint));
  const form = el("form", { novalidate: true }, email.row, password.row, el("button", { type: "submit" }, title));
  onSubmit(form, async () => {
    const answer = await submit(email.input.value, password.input.value);
    await afterPassword(app, answer, email.input.value);
  });
  email.input.setAttribute("data-focus", "");
  return el("section", {}, heading(title), form, other);
}

async function afterPassword(app, answer, email) {
  if (answer.status === "signed_in") return app.signedIn(answer.session_token);
  if (answer.status === "two_factor_required") return app.show(twoFactorPage(app, answer.challenge_token));
  return app.show(await enrollmentRequiredPage(app, answer, email));
}

function twoFactorPage(app, challengeToken) {
  const prompt = secondFactorForm({
    submitLabel: "Verify",
    allowBackupCode: true,
    onProof: async (proof) => {
      try {
        const answer = await call("POST", "v1/sessions/verify", { token: challengeToken, body: proof });
        app.signedIn(answer.session_token);
      } catch (error) {
        if (error instanceof ApiError && error.code === "unauthorized") {
          throw new ApiError(401, error.code, "This sign-in has expired. Sign in again.");
        }
        throw error;
      }
    },
  });
  prompt.form.querySelector("input").setAttribute("data-focus", "");
  return el(
    "section",
    {},
    heading("Two-factor authentication"),
    el("p", {}, "Enter the 6-digit code from your authenticator app."),
    prompt.form,
    el("p", {}, el("button", { type: "button", class: "link", onclick: () => app.goTo("#/sign-in") }, "Back to sign in")),
  );
}

async function enrollmentRequiredPage(app, answer, email) {
  const token = answer.enrollment_token;
  const section = el(
    "section",
    {},
    heading("Turn on two-factor authentication"),
    el("p", {}, "These organizations require two-factor authentication, and your time to turn it on has ended:"),
    el("ul", {}, ...answer.organizations.map((org) => el("li", {}, org.name))),
    el("p", {}, "Turn on 2FA now to continue. It takes a minute with any authenticator app."),
  );
  const back = el("p", {}, el("button", { type: "button", class: "link", onclick: () => app.goTo("#/sign-in") }, "Back to sign in"));
  const panel = await enrollmentPanel({
    token,
    onConfirmed: (confirmed) =>
      app.swap(
        panel,
        backupCodesPanel({
          app,
          codes: confirmed.backup_codes,
          email,
          onDone: () => app.signedIn(confirmed.session_token),
        }),
      ),
  });
  section.append(panel, back);
  return section;
}
