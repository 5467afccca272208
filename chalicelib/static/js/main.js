// The pages' entry point: which page to show, signing in and out, and the few things
// every page shares (focus, the page title, a place for errors, the guard on leaving
// while backup codes are unsaved). Pages are chosen by the address's fragment (#/...),
// so the service serves one HTML file.

import { call, session } from "./api.js";
import { el } from "./dom.js";
import { invitationPage, pendingInvitation } from "./invitation.js";
import { organizationPage } from "./organization.js";
import { settingsPage } from "./settings.js";
import { createAccountPage, signInPage } from "./sign-in.js";
import { supportPage } from "./support.js";

const content = document.getElementById("content");
const nav = document.getElementById("site-nav");
const problem = el("p", { class: "form-error page-error", role: "alert" });
let leaveWarning = null; // set while new backup codes are shown and not yet confirmed saved
let nextNotice = null; // a message for the next page shown
let shown = 0; // the latest route; an earlier one that finishes later is dropped

const app = {
  signedIn(token) {
    session.start(token);
    app.goTo(pendingInvitation.get() ? "#/invitation" : "#/security");
  },
  /** Shows a page that has no address of its own (the 2FA prompt, enrollment required). */
  show(section) {
    shown += 1;
    render(section);
  },
  /** Replaces part of a page and moves the focus there. */
  swap(old, replacement) {
    old.replaceWith(replacement);
    focusIn(replacement);
  },
  goTo(hash, notice = null) {
    if (leaveWarning && !window.confirm(leaveWarning)) return;
    leaveWarning = null;
    nextNotice = notice;
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  refresh(notice = null) {
    nextNotice = notice;
    route();
  },
  protectLeaving(message) {
    leaveWarning = message;
  },
  allowLeaving() {
    leaveWarning = null;
  },
  /** Wraps an event handler so that a failure shows its message instead of vanishing. */
  reporting(action) {
    return async (...args) => {
      problem.textContent = "";
      try {
        await action(...args);
      } catch (error) {
        problem.textContent = error.message;
      }
    };
  },
};

async function route() {
  const mine = ++shown;
  const notice = nextNotice;
  nextNotice = null;
  nav.hidden = !session.token;
  const [, page = "", id = ""] = (location.hash || "#/").match(/^#\/([a-z-]*)\/?(.*)$/) ?? [];
  const invitationNotice = pendingInvitation.get() ? "Sign in or create an account to accept your invitation." : null;
  try {
    let section;
    if (!session.token) {
      section = (page === "create-account" ? createAccountPage : signInPage)(app);
    } else if (page === "orgs" && id) {
      section = await organizationPage(app, decodeURIComponent(id));
    } else if (page === "support") {
      section = supportPage(app);
    } else if (page === "invitation" && pendingInvitation.get()) {
      section = await invitationPage(app);
    } else {
      section = await settingsPage(app);
    }
    if (mine === shown) render(section, notice ?? (session.token ? null : invitationNotice));
  } catch (error) {
    if (mine === shown && error.code !== "unauthorized") render(failurePage(error));
  }
}

function render(section, notice = null) {
  problem.textContent = "";
  content.replaceChildren(problem, section);
  const title = section.querySelector("h1");
  if (notice) title.after(el("p", { class: "notice", role: "status" }, notice));
  document.title = title ? `${title.textContent} · AegisRunner` : "AegisRunner";
  focusIn(section);
}

function focusIn(element) {
  const target = element.querySelector("[data-focus]") ?? element.querySelector("h1, h2") ?? element;
  if (!target.matches("a[href], button, input, select, textarea, [tabindex]")) target.setAttribute("tabindex", "-1");
  target.focus();
}

function failurePage(error) {
  return el(
    "section",
    {},
    el("h1", { tabindex: "-1" }, "Something went wrong"),
    el("p", {}, error.message),
    el("button", { type: "button", onclick: () => route() }, "Try again"),
  );
}

// An invitation link carries the organization and a single-use token in its query or
// fragment: keep them for this tab and take them out of the address bar and history at once.
function takeInvitationFromAddress() {
  const url = new URL(location.href);
  for (const params of [url.searchParams, new URLSearchParams(url.hash.slice(1))]) {
    const orgId = params.get("invitation");
    const token = params.get("token");
    if (orgId && token) {
      pendingInvitation.keep(orgId, token);
      history.replaceState(null, "", `${url.pathname}#/invitation`);
      return;
    }
  }
}

async function signOut() {
  if (leaveWarning && !window.confirm(leaveWarning)) return;
  leaveWarning = null;
  const token = session.token;
  session.forget();
  pendingInvitation.forget(); // the emailed token is not for whoever signs in next in this tab
  try {
    await call("DELETE", "v1/sessions/current", { token });
  } catch {
    // Signed out in this tab either way; the session also expires by itself.
  }
  app.goTo("#/sign-in", "You are signed out.");
}

window.addEventListener("hashchange", (event) => {
  if (leaveWarning && !window.confirm(leaveWarning)) {
    history.replaceState(null, "", new URL(event.oldURL).hash);
    return;
  }
  leaveWarning = null;
  takeInvitationFromAddress(); // a link followed in an open tab changes only the fragment
  route();
});
window.addEventListener("beforeunload", (event) => {
  if (leaveWarning) event.preventDefault();
});
window.addEventListener("aegis:session-ended", () => {
  leaveWarning = null;
  app.goTo("#/sign-in", "Your session has ended. Sign in again.");
});
document.getElementById("sign-out").addEventListener("click", signOut);

takeInvitationFromAddress();
route();
