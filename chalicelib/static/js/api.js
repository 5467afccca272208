// Calls to the aegis-2fa API, on the same origin as the pages.
// The session token is kept in sessionStorage, so a reload keeps this tab signed in and
// closing the tab forgets it. Challenge and enrollment tokens are kept only in memory by
// the pages that use them. No token ever goes into a URL, a cookie or localStorage.

const SESSION_KEY = "aegis.session";
// The app's root: one level above this file, so the pages also work under an API Gateway stage.
const ROOT = new URL("../", import.meta.url);

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(SESSION_KEY);
  },
  start(token) {
    sessionStorage.setItem(SESSION_KEY, token);
  },
  forget() {
    sessionStorage.removeItem(SESSION_KEY);
  },
};

/** One API call. Resolves to the JSON answer (null for 204); rejects with an ApiError. */
export async function call(method, path, { body, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(new URL(path, ROOT), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "network_error", "The service could not be reached. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  const answer = await response.json().catch(() => null);
  if (response.ok) return answer;
  const error = answer?.error ?? { code: "unexpected", message: `The service answered with status ${response.status}.` };
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  throw new ApiError(response.status, error.code, error.message, Number.isFinite(retryAfter) ? retryAfter : null);
}

/** A call with the session token. When the session has ended, the pages go back to sign-in. */
export async function callAsUser(method, path, body) {
  try {
    return await call(method, path, { body, token: session.token });
  } catch (error) {
    // Said once, when calls made together (a page's reads) all find the session ended.
    if (error.status === 401 && error.code === "unauthorized" && session.token) {
      session.forget();
      window.dispatchEvent(new CustomEvent("aegis:session-ended"));
    }
    throw error;
  }
}
