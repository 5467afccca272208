// Support: request a reset of a user's 2FA after verifying their identity. Only accounts
// with the support role may; the API answers anyone else with "forbidden".

import { callAsUser } from "./api.js";
import { el, field, heading, onSubmit, time } from "./dom.js";

export function supportPage() {
  const userId = field("User ID", { name: "user_id", required: true, autocomplete: "off" });
  const reference = field("Verification reference", { name: "verification_reference", required: true, maxlength: 500 });
  const reason = field("Reason", { tag: "textarea", name: "reason", required: true, maxlength: 500, rows: 3 });
  const result = el("div", { role: "status" });
  const form = el(
    "form",
    { novalidate: true },
    userId.row,
    reference.row,
    reason.row,
    el("button", { type: "submit" }, "Request reset"),
  );
  onSubmit(form, async () => {
    result.replaceChildren();
    if (!userId.input.value.trim()) throw new Error("Enter the user's ID.");
    const reset = await callAsUser(
      "POST",
      `v1/support/users/${encodeURIComponent(userId.input.value.trim())}/two-factor-reset`,
      { verification_reference: reference.input.value, reason: reason.input.value },
    );
    result.append(
      el(
        "p",
        { class: "notice" },
        "Reset requested. The user is emailed now; their 2FA is turned off on ",
        time(reset.effective_at),
        ` unless they cancel it. Reset id: ${reset.reset_id}.`,
      ),
    );
    form.reset();
  });
  return el(
    "section",
    {},
    heading("Support: reset a user's 2FA"),
    el(
      "p",
      {},
      "For AegisRunner support staff, when a user has lost both their authenticator and their backup codes. " +
        "Verify their identity first and record how. The reset is not instant: it waits (24 hours by default), " +
        "and the user is emailed and can cancel it.",
    ),
    form,
    result,
  );
}
