// Settings → Security: the two-factor card (enable, regenerate backup codes, disable), a
// pending support reset, the deadlines of organizations that require 2FA, open invitations
// (to decline), and the person's organizations (to leave, or to create one).

import { callAsUser, session } from "./api.js";
import { confirmDialog, el, field, heading, onSubmit, tableHead, time } from "./dom.js";
import { backupCodesPanel, enrollmentPanel } from "./enroll.js";
import { pendingInvitation } from "./invitation.js";
import { codeForm, secondFactorForm } from "./second-factor.js";

const PLANS = [
  ["free", "Free"],
  ["team", "Team"],
  ["business", "Business"],
  ["enterprise", "Enterprise"],
];

export async function settingsPage(app) {
  const [me, { invitations }] = await Promise.all([
    callAsUser("GET", "v1/me/security"),
    callAsUser("GET", "v1/me/invitations"),
  ]);
  return el(
    "section",
    {},
    heading("Security"),
    el("p", {}, "Signed in as ", el("strong", {}, me.email)),
    pendingResetBanner(app, me.pending_reset),
    ...deadlineBanners(me),
    twoFactorCard(app, me),
    invitationsCard(app, invitations),
    organizationsCard(app, me),
  );
}

function pendingResetBanner(app, reset) {
  if (!reset) return null;
  const form = el("form", {}, el("button", { type: "submit", class: "secondary" }, "Cancel reset"));
  onSubmit(form, async () => {
    await callAsUser("DELETE", "v1/me/two-factor/reset");
    app.refresh("The support reset is cancelled. Your 2FA stays on.");
  });
  return el(
    "div",
    { class: "banner warning" },
    el("p", {}, "Support was asked to turn off 2FA on your account. It happens on ", time(reset.effective_at),
      " unless you cancel it. If you did not ask for this, cancel it now."),
    form,
  );
}

function deadlineBanners(me) {
  if (me.two_factor.enabled) return [];
  return me.organizations
    .filter((org) => org.status === "pending" && org.deadline)
    .map((org) =>
      el(
        "p",
        { class: "banner warning" },
        `${org.name} requires two-factor authentication. Turn on 2FA before `,
        time(org.deadline),
        ", or you will only be able to sign in to enroll.",
      ),
    );
}

function twoFactorCard(app, me) {
  const { enabled, enabled_at: enabledAt, backup_codes_remaining: remaining } = me.two_factor;
  const actions = el("div", { class: "actions" });
  const state = enabled
    ? el("p", { class: "state on" }, "2FA is on, since ", time(enabledAt), `. Backup codes left: ${remaining} of 8.`)
    : el("p", { class: "state off" }, "2FA is off.");
  const card = el(
    "section",
    { class: "card", "aria-labelledby": "two-factor-title" },
    el("h2", { id: "two-factor-title" }, "Two-Factor Authentication"),
    el(
      "p",
      {},
      "Turn on 2FA to require a second factor — a 6-digit code from your phone — at every sign-in. " +
        "Even if your password leaks, your account stays locked.",
    ),
    state,
    actions,
  );
  // The card's lower part changes in place: actions, then a form or the QR code, then the codes.
  let shown = actions;
  const replace = (next) => {
    app.swap(shown, next);
    shown = next;
  };
  const showCodes = (codes) =>
    replace(backupCodesPanel({ app, codes, email: me.email, onDone: () => app.refresh() }));
  if (!enabled) {
    const enable = async () =>
      replace(
        await enrollmentPanel({
          token: session.token,
          onConfirmed: (confirmed) => {
            state.replaceChildren("2FA is on.");
            state.className = "state on";
            showCodes(confirmed.backup_codes);
          },
        }),
      );
    actions.append(el("button", { type: "button", onclick: app.reporting(enable) }, "Enable 2FA"));
    return card;
  }
  const askForCode = (intro, prompt) => {
    const cancel = el("button", { type: "button", class: "secondary", onclick: () => app.refresh() }, "Cancel");
    prompt.form.querySelector(".actions").append(cancel);
    replace(el("div", { class: "code-prompt" }, el("p", {}, intro), prompt.form));
    prompt.focus();
  };
  const regenerate = () =>
    askForCode(
      "Enter the 6-digit code from your app. New codes replace all your previous backup codes.",
      codeForm({
        submitLabel: "Regenerate",
        onCode: async (code) =>
          showCodes((await callAsUser("POST", "v1/me/two-factor/backup-codes", { code })).backup_codes),
      }),
    );
  const disable = () =>
    askForCode(
      "Enter your current 2FA code, or a backup code, to confirm. Disabling clears your TOTP secret and backup " +
        "codes from our systems.",
      secondFactorForm({
        submitLabel: "Disable",
        allowBackupCode: true,
        onProof: async (proof) => {
          await callAsUser("POST", "v1/me/two-factor/disable", proof);
          app.refresh("2FA is off. Your other sessions were signed out.");
        },
      }),
    );
  actions.append(
    el("button", { type: "button", onclick: regenerate }, "Regenerate backup codes"),
    el("button", { type: "button", class: "danger", onclick: disable }, "Disable 2FA"),
  );
  return card;
}

function invitationsCard(app, invitations) {
  if (!invitations.length) return null;
  const problem = el("p", { class: "form-error", role: "alert" });
  const decline = (invitation) => async () => {
    problem.textContent = "";
    const confirmed = await confirmDialog({
      title: "Decline the invitation?",
      message: `You will not join ${invitation.name}. To join later you need a new invitation.`,
      confirmLabel: "Decline",
    });
    if (!confirmed) return;
    try {
      await callAsUser("DELETE", `v1/me/invitations/${encodeURIComponent(invitation.org_id)}`);
    } catch (error) {
      problem.textContent = error.message;
      return;
    }
    if (pendingInvitation.get()?.orgId === invitation.org_id) pendingInvitation.forget();
    app.refresh(`You declined the invitation to ${invitation.name}.`);
  };
  const kept = pendingInvitation.get();
  return el(
    "section",
    { class: "card", "aria-labelledby": "invitations-title" },
    el("h2", { id: "invitations-title" }, "Invitations"),
    el("p", {}, "To accept an invitation, open the link in the email that brought it: only that link can accept it."),
    el(
      "table",
      {},
      tableHead("Organization", "Role", "Requires 2FA", "Valid until", "Actions"),
      el(
        "tbody",
        {},
        ...invitations.map((invitation) =>
          el(
            "tr",
            {},
            el("td", {}, invitation.name),
            el("td", {}, invitation.role === "admin" ? "Admin" : "Member", invitation.sso ? " (SSO)" : ""),
            el("td", {}, invitation.require_two_factor ? "Yes" : "No"),
            el("td", {}, time(invitation.expires_at)),
            el(
              "td",
              {},
              el(
                "div",
                { class: "row-actions" },
                // The link from the email, kept by this tab, can still accept it.
                kept?.orgId === invitation.org_id
                  ? el("a", { href: "#/invitation", "aria-label": `Accept the invitation to ${invitation.name}` }, "Accept")
                  : null,
                el(
                  "button",
                  {
                    type: "button",
                    class: "secondary",
                    "aria-label": `Decline the invitation to ${invitation.name}`,
                    onclick: decline(invitation),
                  },
                  "Decline",
                ),
              ),
            ),
          ),
        ),
      ),
    ),
    problem,
  );
}

function organizationsCard(app, me) {
  const organizations = me.organizations;
  const name = field("Organization name", { name: "name", required: true, maxlength: 200 });
  const plan = field("Plan", { tag: "select", name: "plan" });
  plan.input.append(...PLANS.map(([value, label]) => el("option", { value }, label)));
  const create = el(
    "form",
    { novalidate: true, class: "inline-form" },
    name.row,
    plan.row,
    el("button", { type: "submit" }, "Create organization"),
  );
  onSubmit(create, async () => {
    const org = await callAsUser("POST", "v1/orgs", { name: name.input.value, plan: plan.input.value });
    app.goTo(`#/orgs/${encodeURIComponent(org.org_id)}`);
  });
  const problem = el("p", { class: "form-error", role: "alert" });
  const leave = (org) => async () => {
    problem.textContent = "";
    const confirmed = await confirmDialog({
      title: "Leave the organization?",
      message: `You will no longer be a member of ${org.name}. To join again you need a new invitation.`,
      confirmLabel: "Leave",
    });
    if (!confirmed) return;
    try {
      const path = `v1/orgs/${encodeURIComponent(org.org_id)}/members/${encodeURIComponent(me.user_id)}`;
      await callAsUser("DELETE", path);
    } catch (error) {
      problem.textContent = error.message;
      return;
    }
    app.refresh(`You left ${org.name}.`);
  };
  return el(
    "section",
    { class: "card", "aria-labelledby": "organizations-title" },
    el("h2", { id: "organizations-title" }, "Organizations"),
    organizations.length
      ? organizationsTable(organizations, leave)
      : el("p", {}, "You are not a member of any organization."),
    problem,
    el("h3", {}, "Create an organization"),
    create,
  );
}

function organizationsTable(organizations, leave) {
  return el(
    "table",
    {},
    tableHead("Organization", "Your role", "2FA", "Deadline", "Actions"),
    el(
      "tbody",
      {},
      ...organizations.map((org) =>
        el(
          "tr",
          {},
          el(
            "td",
            {},
            org.role === "member" ? org.name : el("a", { href: `#/orgs/${encodeURIComponent(org.org_id)}` }, org.name),
          ),
          el("td", {}, org.role),
          el("td", {}, statusLabel(org.status)),
          el("td", {}, time(org.deadline)),
          el(
            "td",
            {},
            el(
              "button",
              { type: "button", class: "secondary", "aria-label": `Leave ${org.name}`, onclick: leave(org) },
              "Leave",
            ),
          ),
        ),
      ),
    ),
  );
}

export const STATUS_LABELS = {
  compliant: "Compliant",
  pending: "Pending",
  locked: "Locked",
  exempt: "Exempt (SSO)",
  not_required: "Not required",
};

export function statusLabel(status) {
  return STATUS_LABELS[status] ?? status;
}
