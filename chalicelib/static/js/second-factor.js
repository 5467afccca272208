// The second-factor form: the 6-digit code from the app or, after "Use a backup code",
// one of the backup codes. Used at sign-in and to disable 2FA.

import { el, field, onSubmit } from "./dom.js";

export function secondFactorForm({ submitLabel, allowBackupCode, onProof }) {
  const code = field("Authentication code", {
    name: "code",
    autocomplete: "one-time-code",
    inputmode: "numeric",
    required: true,
  });
  const backup = field("Backup code", {
    name: "backup_code",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    required: true,
  });
  backup.row.hidden = true;
  const toggle = el("button", { type: "button", class: "link" }, "Use a backup code");
  toggle.addEventListener("click", () => {
    const useBackupCode = backup.row.hidden;
    backup.row.hidden = !useBackupCode;
    code.row.hidden = useBackupCode;
    toggle.textContent = useBackupCode ? "Use your authenticator app" : "Use a backup code";
    (useBackupCode ? backup.input : code.input).focus();
  });
  const form = el(
    "form",
    { novalidate: true },
    code.row,
    backup.row,
    el("div", { class: "actions" }, el("button", { type: "submit" }, submitLabel), allowBackupCode ? toggle : null),
  );
  onSubmit(form, () => onProof(backup.row.hidden ? { code: code.input.value } : { backup_code: backup.input.value }));
  return { form, focus: () => code.input.focus() };
}

/** A form asking only for the current 6-digit code. */
export function codeForm({ submitLabel, onCode }) {
  return secondFactorForm({ submitLabel, allowBackupCode: false, onProof: ({ code }) => onCode(code) });
}
