// Organization Settings → Security, for owners and admins: Require 2FA with its 30-day
// grace period, the members counted by status, the paged member list (filterable by
// status, with role changes and removal) and invitations.

import { callAsUser } from "./api.js";
import { confirmDialog, el, field, heading, onSubmit, time } from "./dom.js";
import { STATUS_LABELS, statusLabel } from "./settings.js";

const PAGE_SIZE = 50;
const ROLES = ["member", "admin", "owner"];

export async function organizationPage(app, orgId) {
  const me = await callAsUser("GET", "v1/me/security");
  const org = me.organizations.find((candidate) => candidate.org_id === orgId);
  if (!org || org.role === "member") {
    return el(
      "section",
      {},
      heading("Organization Security"),
      el("p", {}, "Only the organization's owners and admins can see its security settings."),
    );
  }
  const path = `v1/orgs/${encodeURIComponent(orgId)}`;
  const policy = await callAsUser("GET", `${path}/security`);
  return el(
    "section",
    {},
    heading(`Organization Security: ${org.name}`),
    el("p", {}, "Your role: ", org.role, "."),
    requirementCard(app, path, org, policy),
    countsCard(policy),
    membersCard(app, path, org),
    inviteCard(path, org),
  );
}

function requirementCard(app, path, org, policy) {
  const required = policy.require_two_factor;
  const change = async () => {
    const confirmed = await confirmDialog(
      required
        ? {
            title: "Stop requiring 2FA?",
            message: `Members of ${org.name} will no longer need 2FA, and their deadlines are cleared.`,
            confirmLabel: "Stop requiring 2FA",
          }
        : {
            title: "Require 2FA for all members?",
            message:
              `Members of ${org.name} who have not turned on 2FA get a 30-day grace period to enroll, with ` +
              "email reminders 7 days, 3 days and 1 day before lockout. After 30 days they can only sign in to " +
              "enroll. New members must enroll before they join. SSO members are exempt.",
            confirmLabel: "Require 2FA",
          },
    );
    if (!confirmed) return;
    const answer = await callAsUser("PUT", `${path}/security`, { require_two_factor: !required });
    app.refresh(
      answer.require_two_factor
        ? "2FA is now required. Members who have not enrolled have 30 days."
        : "2FA is no longer required.",
    );
  };
  return el(
    "section",
    { class: "card", "aria-labelledby": "require-title" },
    el("h2", { id: "require-title" }, "Require 2FA"),
    el(
      "p",
      {},
      "Owners and Admins on Business+ can require 2FA for all members. Existing members get 30 days to enroll; " +
        "new members must enroll before they join.",
    ),
    el(
      "p",
      { class: "switch-row" },
      el(
        "button",
        { type: "button", role: "switch", class: "switch", "aria-checked": String(required), onclick: app.reporting(change) },
        el("span", { class: "switch-knob", "aria-hidden": "true" }),
        "Require 2FA",
      ),
      el("span", { class: "switch-state", "aria-hidden": "true" }, required ? "On" : "Off"),
    ),
    required && policy.enforced_at ? el("p", {}, "Required since ", time(policy.enforced_at), ".") : null,
    required && policy.deadline
      ? el("p", {}, "Members who had not enrolled by then have until ", time(policy.deadline), ".")
      : null,
  );
}

function countsCard(policy) {
  if (!policy.counts) return null;
  return el(
    "section",
    { class: "card", "aria-labelledby": "counts-title" },
    el("h2", { id: "counts-title" }, "Members by status"),
    el(
      "dl",
      { class: "counts" },
      ...Object.entries(STATUS_LABELS).flatMap(([status, label]) => [
        el("dt", {}, label),
        el("dd", {}, String(policy.counts[status] ?? 0)),
      ]),
    ),
    el("p", { class: "hint" }, "Counted at ", time(policy.counts_as_of), "; counts may lag by up to an hour."),
  );
}

function membersCard(app, path, org) {
  const isOwner = org.role === "owner";
  const filter = field("Status", { tag: "select", name: "status" });
  filter.input.append(
    el("option", { value: "" }, "All statuses"),
    ...Object.entries(STATUS_LABELS).map(([value, label]) => el("option", { value }, label)),
  );
  const list = el("div", { class: "members" });
  const problem = el("p", { class: "form-error", role: "alert" });
  const pageInfo = el("span", { class: "status", role: "status" });
  const previous = el("button", { type: "button", class: "secondary" }, "Previous page");
  const next = el("button", { type: "button", class: "secondary" }, "Next page");
  // The cursors of the pages seen so far, so "Previous page" can go back.
  let cursors = [null];

  const load = async () => {
    problem.textContent = "";
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    const cursor = cursors.at(-1);
    if (cursor) query.set("cursor", cursor);
    if (filter.input.value) query.set("status", filter.input.value);
    try {
      const answer = await callAsUser("GET", `${path}/members?${query}`);
      list.replaceChildren(membersTable(answer.members));
      next.disabled = !answer.next_cursor;
      next.dataset.cursor = answer.next_cursor ?? "";
      previous.disabled = cursors.length === 1;
      pageInfo.textContent = `Page ${cursors.length}, ${answer.members.length} members shown.`;
    } catch (error) {
      problem.textContent = error.message;
    }
  };
  filter.input.addEventListener("change", () => {
    cursors = [null];
    load();
  });
  next.addEventListener("click", () => {
    cursors.push(next.dataset.cursor);
    load();
  });
  previous.addEventListener("click", () => {
    cursors.pop();
    load();
  });

  const membersTable = (members) => {
    if (!members.length) return el("p", {}, "No members with this status.");
    return el(
      "table",
      {},
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ...["Email", "Role", "Sign-in", "2FA", "Status", "Deadline", "Actions"].map((t) => el("th", { scope: "col" }, t)),
        ),
      ),
      el("tbody", {}, ...members.map((member) => memberRow(member))),
    );
  };

  const memberRow = (member) => {
    const actions = el("td", { class: "row-actions" });
    if (isOwner) {
      const role = el("select", { "aria-label": `Role of ${member.email}` });
      role.append(...ROLES.map((value) => el("option", { value, selected: value === member.role }, value)));
      const save = async () => {
        await callAsUser("PUT", `${path}/members/${encodeURIComponent(member.user_id)}`, { role: role.value });
        await load();
      };
      actions.append(role, el("button", { type: "button", class: "secondary", onclick: reporting(save) }, "Change role"));
    }
    if (isOwner || member.role === "member") {
      const remove = async () => {
        const confirmed = await confirmDialog({
          title: "Remove member?",
          message: `${member.email} will no longer be a member of ${org.name}.`,
          confirmLabel: "Remove member",
        });
        if (!confirmed) return;
        await callAsUser("DELETE", `${path}/members/${encodeURIComponent(member.user_id)}`);
        await load();
      };
      actions.append(
        el("button", { type: "button", class: "danger", "aria-label": `Remove ${member.email}`, onclick: reporting(remove) }, "Remove"),
      );
    }
    return el(
      "tr",
      {},
      el("td", {}, member.email),
      el("td", {}, member.role),
      el("td", {}, member.sso ? "SSO" : "Password"),
      el("td", {}, member.two_factor_enabled ? "On" : "Off"),
      el("td", {}, statusLabel(member.status)),
      el("td", {}, time(member.deadline)),
      actions,
    );
  };

  const reporting = (action) => async () => {
    problem.textContent = "";
    try {
      await action();
    } catch (error) {
      problem.textContent = error.message;
    }
  };

  load();
  return el(
    "section",
    { class: "card", "aria-labelledby": "members-title" },
    el("h2", { id: "members-title" }, "Members"),
    filter.row,
    problem,
    list,
    el("div", { class: "actions" }, previous, next, pageInfo),
  );
}

function inviteCard(path, org) {
  const email = field("Email", { type: "email", name: "email", autocomplete: "off", required: true });
  const role = field("Role", { tag: "select", name: "role" });
  role.input.append(el("option", { value: "member" }, "Member"));
  if (org.role === "owner") role.input.append(el("option", { value: "admin" }, "Admin"));
  const ssoId = `sso-${org.org_id}`;
  const sso = el("input", { type: "checkbox", id: ssoId, name: "sso" });
  const sent = el("p", { class: "notice", role: "status" });
  const form = el(
    "form",
    { novalidate: true, class: "inline-form" },
    email.row,
    role.row,
    el("div", { class: "check" }, sso, el("label", { for: ssoId }, "Signs in with SSO")),
    el("button", { type: "submit" }, "Invite member"),
    sent,
  );
  onSubmit(form, async () => {
    sent.textContent = "";
    const answer = await callAsUser("POST", `${path}/invitations`, {
      email: email.input.value,
      role: role.input.value,
      sso: sso.checked,
    });
    sent.append(`Invitation sent to ${answer.email}. It is valid until `, time(answer.expires_at), ".");
    email.input.value = "";
  });
  return el(
    "section",
    { class: "card", "aria-labelledby": "invite-title" },
    el("h2", { id: "invite-title" }, "Invite member"),
    el("p", {}, "Nobody joins without accepting: the address gets an email with a link to accept the invitation."),
    form,
  );
}
