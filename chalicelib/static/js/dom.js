// Small helpers to build the pages. Values from the API only ever become text nodes
// (append of a string, textContent), never HTML, so "<img src=x onerror=...>" shows as typed.

import { ApiError } from "./api.js";

let lastId = 0;

/** A new element: attributes (on* are event listeners, true/false toggle), then children. */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

export function uniqueId(prefix) {
  lastId += 1;
  return `${prefix}-${lastId}`;
}

/** A labelled input; returns the row to place and the input to read. */
export function field(label, attributes = {}) {
  const id = uniqueId("field");
  const input = el(attributes.tag ?? "input", { id, ...attributes, tag: null });
  return { row: el("div", { class: "field" }, el("label", { for: id }, label), input), input };
}

export function time(iso) {
  if (!iso) return "";
  const shown = new Date(iso).toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });
  return el("time", { datetime: iso }, `${shown} UTC`);
}

/** The day alone, for tables where every row would repeat the same hour. */
export function date(iso) {
  if (!iso) return "";
  const shown = new Date(iso).toLocaleDateString("en-US", { dateStyle: "medium", timeZone: "UTC" });
  return el("time", { datetime: iso }, shown);
}

/** A table's head: one row of column headers. */
export function tableHead(...titles) {
  return el("thead", {}, el("tr", {}, ...titles.map((title) => el("th", { scope: "col" }, title))));
}

export function heading(text) {
  return el("h1", { tabindex: "-1" }, text);
}

/**
 * Runs `action` when the form is submitted: one submission at a time, the API's message
 * shown as text on failure, and after a 429 the submit button waits out Retry-After with a
 * visible countdown.
 */
export function onSubmit(form, action) {
  const message = el("p", { class: "form-error", role: "alert" });
  const countdown = el("p", { class: "countdown", role: "timer", hidden: true });
  form.append(message, countdown);
  const submit = form.querySelector("button[type=submit]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true" || submit.disabled) return;
    message.textContent = "";
    form.setAttribute("aria-busy", "true");
    try {
      await action(event);
    } catch (error) {
      message.textContent = error.message;
      if (error instanceof ApiError && error.status === 429 && error.retryAfter) {
        waitBeforeRetry(submit, countdown, message, error.retryAfter);
      }
    } finally {
      form.setAttribute("aria-busy", "false");
    }
  });
  return message;
}

function waitBeforeRetry(submit, countdown, message, seconds) {
  let left = seconds;
  const show = () => {
    countdown.textContent = `Try again in ${waitText(left)}.`;
  };
  submit.disabled = true;
  countdown.hidden = false;
  show();
  const timer = setInterval(() => {
    left -= 1;
    if (left > 0) return show();
    clearInterval(timer);
    countdown.hidden = true;
    message.textContent = "";
    submit.disabled = false;
  }, 1000);
}

/** "45 seconds", or past a minute and a half "3 minutes" (rounded up): lockouts last up to an hour. */
function waitText(seconds) {
  if (seconds > 90) return `${Math.ceil(seconds / 60)} minutes`;
  return `${seconds} ${seconds === 1 ? "second" : "seconds"}`;
}

/** A modal question; resolves to true when the person confirms. Escape or Cancel is false. */
export function confirmDialog({ title, message, confirmLabel }) {
  return new Promise((resolve) => {
    const titleId = uniqueId("dialog-title");
    const dialog = el(
      "dialog",
      { "aria-labelledby": titleId },
      el("h2", { id: titleId }, title),
      el("p", {}, message),
      el(
        "div",
        { class: "actions" },
        el("button", { type: "button", onclick: () => dialog.close("confirm") }, confirmLabel),
        el("button", { type: "button", class: "secondary", onclick: () => dialog.close("cancel") }, "Cancel"),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "confirm");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Copies text and says so next to the button. */
export async function copyText(text, status) {
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = "Copied.";
  } catch {
    status.textContent = "Copying is not allowed here; select the text and copy it.";
  }
}
