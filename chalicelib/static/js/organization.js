// Organization Settings → Security, for owners and admins: Require 2FA with its 30-day
// grace period, the members counted by status, the paged member list (filterable by
// status, with role changes and removal) and invitations.

import { callAsUser } from "./api.js";
import { confirmDialog, date, el, field, heading, onSubmit, tableHead, time } from "./dom.js";
import { STATUS_LABELS, statusLabel } from "./settings.js";

const PAGE_SIZE = 50;
const ROLES = [
  ["member", "Member"],
  ["admin", "Admin"],
  ["owner", "Owner"],
];
const ROLE_LABELS = Object.fromEntries(ROLES);
const ROLE_NAMES = { member: "a member", admin: "an admin", owner: "an owner" };

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
    el("p", {}, "Your role: ", ROLE_LABELS[org.role] ?? org.role, "."),
    requirementCard(app, path, org, policy),
    countsCard(path, policy),
    membersCard(app, path, org, me),
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

function countsCard(path, policy) {
  const counts = el("dl", { class: "counts" });
  const asOf = el("p", { class: "hint", role: "status" });
  const problem = el("p", { class: "form-error", role: "alert" });
  const show = (current) => {
    counts.replaceChildren(
      ...Object.entries(STATUS_LABELS).flatMap(([status, label]) => [
        el("dt", {}, label),
        el("dd", {}, String(current.counts?.[status] ?? 0)),
      ]),
    );
    if (current.counts_as_of) {
      asOf.replaceChildren(
        "Counted at ",
        time(current.counts_as_of),
        ". Members are counted in the background, so counts may lag by up to an hour.",
      );
    } else {
      asOf.replaceChildren("Not counted yet: members are counted in the background.");
    }
  };
  const refresh = async () => {
    problem.textContent = "";
    try {
      show(await callAsUser("GET", `${path}/security`));
    } catch (error) {
      problem.textContent = error.message;
    }
  };
  show(policy);
  return el(
    "section",
    { class: "card", "aria-labelledby": "counts-title" },
    el("h2", { id: "counts-title" }, "Members by status"),
    counts,
    asOf,
    el("p", {}, el("button", { type: "button", class: "secondary", onclick: refresh }, "Refresh counts")),
    problem,
  );
}

// With a status filter the API reads a bounded number of members per request, so a page can
// come back short, even empty, with more to follow. A page of the list asks again until it is
// full, up to this many requests (each reads at most 500 members).
const REQUESTS_PER_PAGE = 5;

function membersCard(app, path, org, me) {
  const isOwner = org.role === "owner";
  const filter = field("Status", { tag: "select", name: "status" });
  filter.input.append(
    el("option", { value: "" }, "All statuses"),
    ...Object.entries(STATUS_LABELS).map(([value, label]) => el("option", { value }, label)),
  );
  const list = el("div", { class: "members" });
  const problem = el("p", { class: "form-error", role: "alert" });
  const done = el("p", { class: "notice", role: "status" });
  const pageInfo = el("span", { class: "status", role: "status" });
  const previous = el("button", { type: "button", class: "secondary" }, "Previous page");
  const next = el("button", { type: "button", class: "secondary" }, "Next page");
  // The cursor of every page seen so far (null: the first), so "Previous page" can go back.
  let cursors = [null];
  let nextCursor = null;
  let latest = 0; // a slower answer to an earlier filter or page is dropped

  const fetchPage = async (cursor, status) => {
    const members = [];
    for (let asked = 0; asked < REQUESTS_PER_PAGE; asked += 1) {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE - members.length) });
      if (cursor) query.set("cursor", cursor);
      if (status) query.set("status", status);
      const answer = await callAsUser("GET", `${path}/members?${query}`);
      members.push(...answer.members);
      cursor = answer.next_cursor;
      if (!cursor || members.length === PAGE_SIZE) break;
    }
    return { members, nextCursor: cursor };
  };

  const load = async () => {
    const mine = ++latest;
    const status = filter.input.value;
    problem.textContent = "";
    pageInfo.textContent = "Loading members…";
    list.setAttribute("aria-busy", "true");
    try {
      const page = await fetchPage(cursors.at(-1), status);
      if (mine !== latest) return;
      nextCursor = page.nextCursor;
      list.replaceChildren(membersTable(page.members));
      const focused = document.activeElement;
      next.disabled = !nextCursor;
      previous.disabled = cursors.length === 1;
      // A button that just became disabled drops the keyboard's focus: hand it to the other one.
      if (focused === next && next.disabled && !previous.disabled) previous.focus();
      if (focused === previous && previous.disabled && !next.disabled) next.focus();
      const count = `${page.members.length} ${page.members.length === 1 ? "member" : "members"}`;
      pageInfo.textContent = `Page ${cursors.length}: ${count}${status ? ` with status ${statusLabel(status)}` : ""}.`;
    } catch (error) {
      if (mine === latest) {
        problem.textContent = error.message;
        pageInfo.textContent = "";
      }
    } finally {
      if (mine === latest) list.setAttribute("aria-busy", "false");
    }
  };
  // The list is read again first, so the message comes with the list it describes.
  const reload = async (message) => {
    await load();
    done.textContent = message;
  };
  filter.input.addEventListener("change", () => {
    cursors = [null];
    done.textContent = "";
    load();
  });
  const busy = () => list.getAttribute("aria-busy") === "true"; // one move at a time
  next.addEventListener("click", () => {
    if (busy()) return;
    cursors.push(nextCursor);
    done.textContent = "";
    load();
  });
  previous.addEventListener("click", () => {
    if (busy()) return;
    cursors.pop();
    done.textContent = "";
    load();
  });

  const membersTable = (members) => {
    if (!members.length) {
      return el(
        "p",
        {},
        nextCursor
          ? "None of the members checked so far has this status. Next page looks further."
          : "No members with this status.",
      );
    }
    return el(
      "table",
      {},
      tableHead("Email", "Role", "2FA", "Status", "Deadline", "Actions"),
      el("tbody", {}, ...members.map((member) => memberRow(member))),
    );
  };

  const memberRow = (member) => {
    const itsMe = member.user_id === me.user_id;
    // Owners change the role where it is shown; admins see it as text.
    const role = el("div", { class: "row-actions" });
    if (isOwner) {
      const choice = el("select", { "aria-label": `Role of ${member.email}` });
      choice.append(...ROLES.map(([value, label]) => el("option", { value, selected: value === member.role }, label)));
      const save = async () => {
        let changed;
        try {
          changed = await callAsUser("PUT", `${path}/members/${encodeURIComponent(member.user_id)}`, {
            role: choice.value,
          });
        } catch (error) {
          choice.value = member.role; // refused: show the role the member still has
          throw error;
        }
        const message = `${changed.email} is now ${ROLE_NAMES[changed.role]}.`;
        // Owners who make themselves admins may see less: show the page again.
        if (itsMe) app.refresh(message);
        else await reload(message);
      };
      role.append(
        choice,
        el(
          "button",
          {
            type: "button",
            class: "secondary",
            "aria-label": `Change role of ${member.email}`,
            onclick: reporting(save),
          },
          "Change role",
        ),
      );
    } else {
      role.append(ROLE_LABELS[member.role] ?? member.role);
    }
    if (member.sso) role.append(" (SSO)");
    let removal = null;
    if (isOwner || member.role === "member" || itsMe) {
      const remove = async () => {
        const confirmed = await confirmDialog(
          itsMe
            ? {
                title: "Leave the organization?",
                message: `You will no longer be a member of ${org.name}. To join again you need a new invitation.`,
                confirmLabel: "Leave",
              }
            : {
                title: "Remove member?",
                message: `${member.email} will no longer be a member of ${org.name}. They are emailed about it.`,
                confirmLabel: "Remove member",
              },
        );
        if (!confirmed) return;
        await callAsUser("DELETE", `${path}/members/${encodeURIComponent(member.user_id)}`);
        if (itsMe) app.goTo("#/security", `You left ${org.name}.`);
        else await reload(`${member.email} was removed from ${org.name}.`);
      };
      removal = el(
        "button",
        {
          type: "button",
          class: "danger",
          "aria-label": itsMe ? `Leave ${org.name}` : `Remove ${member.email}`,
          onclick: reporting(remove),
        },
        itsMe ? "Leave" : "Remove",
      );
    }
    return el(
      "tr",
      {},
      el("td", {}, member.email),
      el("td", {}, role),
      el("td", {}, member.two_factor_enabled ? "On" : "Off"),
      el("td", {}, statusLabel(member.status)),
      el("td", {}, date(member.deadline)),
      el("td", {}, removal),
    );
  };

  const reporting = (action) => async () => {
    problem.textContent = "";
    done.textContent = "";
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
    done,
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
