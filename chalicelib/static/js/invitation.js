// Accepting an invitation from the link in its email. The link carries the organization
// and the invitation's single-use token; main.js moves them out of the address bar into
// sessionStorage, so they survive signing in (or creating an account) in this tab.

import { ApiError, callAsUser, session } from "./api.js";
import { el, heading, onSubmit, time } from "./dom.js";
import { backupCodesPanel, enrollmentPanel } from "./enroll.js";

const INVITATION_KEY = "aegis.invitation";

export const pendingInvitation = {
  get() {
    const stored = sessionStorage.getItem(INVITATION_KEY);
    return stored ? JSON.parse(stored) : null;
  },
  keep(orgId, token) {
    sessionStorage.setItem(INVITATION_KEY, JSON.stringify({ orgId, token }));
  },
  forget() {
    sessionStorage.removeItem(INVITATION_KEY);
  },
};

export async function invitationPage(app) {
  const pending = pendingInvitation.get();
  const { invitations } = pending ? await callAsUser("GET", "v1/me/invitations") : { invitations: [] };
  const invitation = invitations.find((candidate) => candidate.org_id === pending?.orgId);
  if (!invitation) {
    pendingInvitation.forget();
    return el(
      "section",
      {},
      heading("Invitation"),
      el(
        "p",
        {},
        "There is no open invitation for the account you are signed in with. It may have expired, been used, " +
          "or been sent to another email address.",
      ),
      el("p", {}, el("a", { href: "#/security" }, "Go to Settings → Security")),
    );
  }
  const accept = el("form", {}, el("div", { class: "actions" }, el("button", { type: "submit" }, "Accept invitation")));
  const decline = el("form", {}, el("button", { type: "submit", class: "secondary" }, "Decline"));
  const section = el(
    "section",
    {},
    heading(`Join ${invitation.name}`),
    el(
      "p",
      {},
      `You're invited to join ${invitation.name} as ${invitation.role === "admin" ? "an admin" : "a member"}` +
        `${invitation.sso ? " signing in with SSO" : ""}. The invitation is valid until `,
      time(invitation.expires_at),
      ".",
    ),
    // SSO members (role member) are exempt: their identity provider enforces a second factor.
    invitation.require_two_factor && !(invitation.sso && invitation.role === "member")
      ? el("p", {}, `${invitation.name} requires two-factor authentication: new members turn on 2FA before they join.`)
      : null,
    el("div", { class: "actions" }, accept, decline),
  );
  const join = async () => {
    try {
      const joined = await callAsUser("POST", `v1/me/invitations/${encodeURIComponent(pending.orgId)}/accept`, {
        token: pending.token,
      });
      pendingInvitation.forget();
      app.goTo("#/security", `You joined ${joined.name}.`);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === "two_factor_required")) throw error;
      await enrollFirst();
    }
  };
  const enrollFirst = async () => {
    const panel = await enrollmentPanel({
      token: session.token,
      onConfirmed: (confirmed) =>
        app.swap(
          panel,
          backupCodesPanel({ app, codes: confirmed.backup_codes, onDone: app.reporting(join) }),
        ),
    });
    app.swap(
      section.querySelector(".actions"),
      el(
        "div",
        {},
        el("h2", { tabindex: "-1", "data-focus": true }, "Turn on 2FA to join"),
        el("p", {}, `${invitation.name} requires 2FA of new members. Turn it on, then you join.`),
        panel,
      ),
    );
  };
  onSubmit(accept, join);
  onSubmit(decline, async () => {
    await callAsUser("DELETE", `v1/me/invitations/${encodeURIComponent(pending.orgId)}`);
    pendingInvitation.forget();
    app.goTo("#/security", `You declined the invitation to ${invitation.name}.`);
  });
  return section;
}
