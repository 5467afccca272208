// Turning 2FA on (the QR code, the setup key, the confirming code) and the backup codes
// that follow, shown once. Used by Settings → Security, by "enrollment required" at
// sign-in, and by an invitation whose organization requires 2FA.

import { call } from "./api.js";
import { copyText, el, uniqueId } from "./dom.js";
import { codeForm } from "./second-factor.js";

/**
 * Starts an enrollment with `token` (a session or an enrollment token) and shows how to
 * add it to an app. `onConfirmed` receives the API's answer to the confirming code.
 */
export async function enrollmentPanel({ token, onConfirmed }) {
  const started = await call("POST", "v1/me/two-factor/enrollment", { token });
  const confirm = codeForm({
    submitLabel: "Verify",
    onCode: async (code) =>
      onConfirmed(await call("POST", "v1/me/two-factor/enrollment/confirm", { token, body: { code } })),
  });
  const copied = el("span", { class: "status", role: "status" });
  return el(
    "div",
    { class: "enrollment" },
    el("h2", {}, "Scan the QR code"),
    el(
      "p",
      {},
      "Scan the QR code with your authenticator app, or enter the setup key manually. Google Authenticator, " +
        "Authy, 1Password, Bitwarden, Microsoft Authenticator, Aegis, Raivo or any TOTP-capable password manager works.",
    ),
    el("div", { class: "qr-frame" }, qrImage(started.qr_svg)),
    el(
      "p",
      { class: "setup-key" },
      "Setup key: ",
      el("code", {}, started.secret.match(/.{1,4}/g).join(" ")),
      " ",
      el("button", { type: "button", class: "secondary", onclick: () => copyText(started.secret, copied) }, "Copy"),
      " ",
      copied,
    ),
    el("h2", {}, "Confirm with a code"),
    el("p", {}, "Enter the 6-digit code your app shows to confirm."),
    confirm.form,
  );
}

// The service's SVG becomes an image through a blob: URL and is never inserted as markup:
// an SVG shown as an image cannot run script or reach the page.
function qrImage(svg) {
  const url = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
  const image = el("img", { class: "qr", alt: "QR code for your authenticator app", width: 216, height: 216 });
  image.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
  image.src = url;
  return image;
}

/**
 * The 8 backup codes, shown once. Leaving the page is questioned until the person
 * confirms that the codes are saved; then `onDone` runs.
 */
export function backupCodesPanel({ app, codes, email, onDone }) {
  app.protectLeaving("Your backup codes are shown only once. Leave without saving them?");
  const status = el("span", { class: "status", role: "status" });
  const checkboxId = uniqueId("saved");
  const saved = el("input", { type: "checkbox", id: checkboxId });
  const problem = el("p", { class: "form-error", role: "alert" });
  const done = () => {
    if (!saved.checked) {
      problem.textContent = "Confirm that you saved your backup codes first.";
      saved.focus();
      return;
    }
    app.allowLeaving();
    onDone();
  };
  return el(
    "div",
    { class: "backup-codes" },
    el("h2", { tabindex: "-1", "data-focus": true }, "Save your backup codes"),
    el(
      "p",
      {},
      "Save these 8 backup codes now — they're shown once and never again. Each code works once, " +
        "when you can't use your authenticator app.",
    ),
    el("ol", { class: "codes" }, ...codes.map((code) => el("li", {}, el("code", {}, code)))),
    el(
      "div",
      { class: "actions" },
      el("button", { type: "button", onclick: () => copyText(codes.join("\n"), status) }, "Copy codes"),
      el("button", { type: "button", onclick: () => download(codesFile(codes, email)) }, "Download codes"),
      status,
    ),
    el(
      "p",
      {},
      "Store them in a password manager, a printed copy in a safe, or an encrypted note on a different device " +
        "than your primary auth device. Don't store them in plain-text email or in a Google Doc.",
    ),
    el("div", { class: "check" }, saved, el("label", { for: checkboxId }, "I have saved my backup codes")),
    el("div", { class: "actions" }, el("button", { type: "button", onclick: done }, "Done")),
    problem,
  );
}

function codesFile(codes, email) {
  return [
    `AegisRunner backup codes${email ? ` for ${email}` : ""}`,
    "Each code works once. Regenerating codes invalidates all of these.",
    "",
    ...codes,
    "",
  ].join("\n");
}

function download(text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  const link = el("a", { href: url, download: "aegisrunner-backup-codes.txt", hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
