// The admin API client. The token lives in sessionStorage (gone with the tab) and travels only as the
// bearer header; requests never send cookies (credentials: "omit"), so there is no CSRF surface.

const KEY = "eks-controlplane.token";

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.errors = (body && body.errors) || [];
  }
}

let unauthorized = () => {};
export function onUnauthorized(handler) {
  unauthorized = handler;
}

function headers(extra = {}) {
  return { Authorization: `Bearer ${token.get() || ""}`, Accept: "application/json", ...extra };
}

// `signIn`: a 401 is the caller's to report (a wrong token typed at login), not a lost session.
export async function api(method, path, { body, type = "application/json", signal, signIn = false } = {}) {
  const init = { method, headers: headers(), signal, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = type;
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const text = await resp.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!resp.ok) {
    if (resp.status === 401 && !signIn) unauthorized();
    throw new ApiError(resp.status, parsed);
  }
  return parsed;
}

// Follows a watch (JSON lines over chunked HTTP); resolves when the server ends it, throws ApiError on
// an error status (410: the position is too old, list again) and AbortError when `signal` aborts.
export async function watch(path, onEvent, signal) {
  const resp = await fetch(path, { headers: headers(), signal, credentials: "omit", cache: "no-store" });
  if (!resp.ok) {
    let body = null;
    try {
      body = await resp.json();
    } catch {
      body = null;
    }
    if (resp.status === 401) unauthorized();
    throw new ApiError(resp.status, body);
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (!line.trim()) continue;
      const event = JSON.parse(line);
      if (event.type === "ERROR") throw new ApiError(event.object.code || 410, { error: event.object.message });
      onEvent(event);
    }
  }
}

export const enc = encodeURIComponent;
